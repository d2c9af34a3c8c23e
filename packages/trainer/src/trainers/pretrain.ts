/**
 * Stage 1 — pretraining: next-token prediction on a text corpus packed into fixed-length blocks.
 * A tokenizer is trained on the corpus unless one is given; the model starts from random weights (or
 * `init`); each evaluation reports held-out loss and bits per byte, and samples a few prompts.
 */
import type { PretrainConfig } from "@rlhf/core/configs";
import { loadCheckpoint } from "../checkpoint";
import { loadTexts, packedBatch, sequentialBatches, tokenStream } from "../data";
import { GPT, gptConfig } from "../model";
import { loadTokenizerJson, type Tokenizer, trainBpe } from "../tokenizer";
import { type JobContext, JobInputError, type RunSummary } from "../train/context";
import { runLmLoop } from "../train/lm-loop";

export async function trainPretrain(config: PretrainConfig, ctx: JobContext): Promise<RunSummary> {
  // 1. Data.
  const trainTexts = await loadTexts(ctx.database, config.dataset, "train");
  const evalTexts = await loadTexts(ctx.database, config.dataset, "eval");
  if (trainTexts.length === 0) throw new JobInputError(`dataset "${config.dataset}" has no training texts`);
  // Without an eval split, hold out the tail of the corpus.
  const heldOut =
    evalTexts.length > 0
      ? evalTexts
      : trainTexts.splice(Math.floor(trainTexts.length * (1 - config.evalFraction)));
  ctx.log(`corpus: ${trainTexts.length} training texts, ${heldOut.length} held out`);

  // 2. Model and tokenizer: resumed, initialised from a checkpoint, or new.
  let model: GPT;
  let tokenizer: Tokenizer;
  let startStep = 0;
  let optimizerState: Awaited<ReturnType<typeof loadCheckpoint>>["optimizerState"];
  if (ctx.resumeFrom) {
    const loaded = await loadCheckpoint(ctx.resumeFrom.path, { withOptimizer: true });
    ({ model, tokenizer, optimizerState } = loaded);
    startStep = loaded.trainerState?.step ?? ctx.resumeFrom.step;
  } else if (config.init) {
    ({ model, tokenizer } = await loadCheckpoint(await ctx.resolveCheckpoint(config.init)));
  } else {
    if (config.tokenizer.path) tokenizer = await loadTokenizerJson(config.tokenizer.path);
    else {
      tokenizer = trainBpe(trainTexts, { vocabSize: config.tokenizer.vocabSize });
      ctx.log(`trained a byte-level BPE tokenizer: ${tokenizer.vocabSize} tokens`);
    }
    const { preset, ...overrides } = config.model;
    const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
    const modelConfig = gptConfig(preset, { ...defined, vocabSize: tokenizer.vocabSize });
    model = new GPT(modelConfig, { seed: config.seed });
  }
  if (config.blockSize > model.config.nPositions) {
    model.dispose();
    throw new JobInputError(
      `blockSize ${config.blockSize} is longer than the model's context (${model.config.nPositions})`,
    );
  }
  ctx.log(
    `model: ${(model.numParams() / 1e6).toFixed(2)}M parameters, d=${model.config.nEmbd}, ${model.config.nLayer} layers`,
  );

  // 3. Tokens.
  const train = tokenStream(tokenizer, trainTexts);
  const held = tokenStream(tokenizer, heldOut);
  ctx.log(`tokens: ${train.tokens.length} for training, ${held.tokens.length} held out`);
  const evalBatches = sequentialBatches(held.tokens, config.batchSize, config.blockSize, config.evalBatches);
  if (evalBatches.length === 0) {
    // One batch takes batchSize × blockSize + 1 tokens (targets are inputs shifted by one).
    const need = config.batchSize * config.blockSize + 1;
    const fits = Math.floor((held.tokens.length - 1) / config.blockSize);
    const smaller =
      fits >= 1
        ? `--batch-size ${fits}`
        : held.tokens.length > 2
          ? `--batch-size 1 --block-size ${held.tokens.length - 1}`
          : "more text";
    throw new JobInputError(
      `the held-out text (${held.tokens.length} tokens) is shorter than one evaluation batch (batchSize ${config.batchSize} × blockSize ${config.blockSize} + 1 = ${need} tokens): hold out more text (a larger --eval-fraction at import, or an eval split), or train with ${smaller}`,
    );
  }

  try {
    const summary = await runLmLoop({
      kind: "pretrain",
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
        packedBatch(train.tokens, config.batchSize, config.blockSize, config.seed, step, micro),
      evalBatches,
      bytesPerToken: held.bytes / held.tokens.length,
      samplePrompts: config.samplePrompts.map((text) => ({
        text,
        ids: tokenizer.encode(text, { allowSpecial: false }),
      })),
      sampleMaxTokens: config.sampleMaxTokens,
      workers: config.workers,
      references: { train: [train.tokens], heldOutTexts: heldOut, contextTokens: config.blockSize },
    });
    return {
      ...summary,
      "data/train_tokens": train.tokens.length,
      tokens_per_parameter: Number(summary.tokens_seen) / model.numParams(),
    };
  } finally {
    model.dispose();
    if (optimizerState) for (const t of optimizerState.values()) t.dispose();
  }
}
