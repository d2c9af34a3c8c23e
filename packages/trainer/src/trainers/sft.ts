/**
 * Stage 2 — supervised fine-tuning: prompt/response pairs in the chat format
 * (`<|user|>prompt<|assistant|>response<|endoftext|>`), loss on the response tokens only, padding masked.
 */
import type { SftConfig } from "@rlhf/core/configs";
import { loadCheckpoint } from "../checkpoint";
import { conversationBatch, encodeConversations, loadPairs } from "../data";
import { addLora, resizeTokenEmbeddings } from "../model";
import { type JobContext, JobInputError, type RunSummary } from "../train/context";
import { runLmLoop } from "../train/lm-loop";
import { microBatchExamples } from "../train/loop";

export async function trainSft(config: SftConfig, ctx: JobContext): Promise<RunSummary> {
  // 1. Model: resumed, or the pretrained checkpoint.
  const resumed = ctx.resumeFrom !== undefined;
  const initDir = resumed ? undefined : await ctx.resolveCheckpoint(config.init);
  const loaded = resumed
    ? await loadCheckpoint(ctx.resumeFrom!.path, { withOptimizer: true })
    : await loadCheckpoint(initDir!);
  const { optimizerState } = loaded;
  let { model, tokenizer } = loaded;
  const startStep = resumed ? (loaded.trainerState?.step ?? ctx.resumeFrom!.step) : 0;
  // A base model from elsewhere (GPT-2 from the hub) has no chat tokens: add them and grow the embedding
  // table, as transformers' add_special_tokens + resize_token_embeddings do. The checkpoints keep them.
  const chat = tokenizer.withChatTokens();
  if (chat.added.length > 0) {
    const before = model.config.vocabSize;
    // A table padded beyond the tokenizer (unused rows) may already have room for the new ids.
    model = resizeTokenEmbeddings(model, Math.max(before, chat.tokenizer.vocabSize));
    ctx.log(
      `the base model's tokenizer had no chat format: added ${chat.added.join(", ")} ` +
        `(ids ${tokenizer.vocabSize}–${chat.tokenizer.vocabSize - 1}); embedding table ${before} → ${model.config.vocabSize} rows`,
    );
    tokenizer = chat.tokenizer;
  }
  // LoRA: adapters on the frozen base, saved as PEFT adapters that name the base (a resumed run has them).
  if (config.lora && !model.lora) {
    if (chat.added.length > 0) {
      model.dispose();
      throw new JobInputError(
        "lora: the base model has no chat tokens, and their new embedding rows would stay untrained with the base frozen; run SFT once without lora (or start from a checkpoint that has them)",
      );
    }
    const adapters = addLora(model, config.lora, { seed: config.seed, baseModel: initDir });
    ctx.log(
      `LoRA r=${config.lora.r} alpha=${config.lora.alpha} on ${adapters.modules.size} modules: ${adapters.numParams()} trainable parameters of ${model.numParams() + adapters.numParams()}`,
    );
  }

  try {
    // 2. Data: chat-formatted, over-long conversations dropped (not truncated).
    const maxLength = Math.min(config.maxLength, model.config.nPositions);
    const trainPairs = await loadPairs(ctx.database, config.dataset, "train");
    let evalPairs = await loadPairs(ctx.database, config.dataset, "eval");
    if (evalPairs.length === 0)
      evalPairs = trainPairs.splice(Math.floor(trainPairs.length * (1 - config.evalFraction)));
    const train = encodeConversations(tokenizer, trainPairs, maxLength);
    const held = encodeConversations(tokenizer, evalPairs, maxLength);
    if (train.conversations.length === 0) {
      throw new JobInputError(
        `dataset "${config.dataset}" has no training pairs of at most ${maxLength} tokens`,
      );
    }
    ctx.log(
      `SFT pairs: ${train.conversations.length} for training, ${held.conversations.length} held out` +
        (train.dropped + held.dropped > 0
          ? `; ${train.dropped + held.dropped} longer than ${maxLength} tokens dropped`
          : ""),
    );
    const evalBatches = [];
    for (
      let i = 0;
      i < held.conversations.length && evalBatches.length < config.evalBatches;
      i += config.batchSize
    ) {
      evalBatches.push(
        conversationBatch(
          held.conversations.slice(i, i + config.batchSize),
          tokenizer.padId,
          config.completionOnlyLoss,
        ),
      );
    }
    if (evalBatches.length === 0)
      throw new JobInputError(`dataset "${config.dataset}" has no held-out pairs to evaluate on`);

    const size = train.conversations.length;
    const summary = await runLmLoop({
      kind: "sft",
      ctx,
      model,
      tokenizer,
      optim: config,
      cadence: config,
      maxSteps: config.maxSteps,
      seed: config.seed,
      startStep,
      optimizerState,
      trainBatch: (step, micro) =>
        conversationBatch(
          microBatchExamples(train.conversations, config, step, micro),
          tokenizer.padId,
          config.completionOnlyLoss,
        ),
      evalBatches,
      samplePrompts: config.samplePrompts.map((text) => ({ text, ids: tokenizer.formatChat(text).ids })),
      sampleMaxTokens: config.sampleMaxTokens,
      workers: config.workers,
      references: {
        train: train.conversations.map((c) => c.ids),
        heldOutTexts: evalPairs.map((p) => p.response),
        contextTokens: maxLength,
      },
    });
    return { ...summary, epochs: (Number(summary.steps) * config.batchSize * config.gradAccumSteps) / size };
  } finally {
    model.dispose();
    if (optimizerState) for (const t of optimizerState.values()) t.dispose();
  }
}
