/**
 * What pretraining and SFT share on the one training loop (./loop.ts): the next-token micro-step (on
 * this thread or split across data-parallel workers), the held-out evaluation with samples. Only the
 * data differs between the two stages.
 */
import type { CadenceConfig, OptimConfig } from "@rlhf/core/configs";
import * as tf from "@tensorflow/tfjs";
import { COMPRESSION_METRICS, compressionFact } from "../compress/run-facts";
import { tokenByteTable } from "../compress/token-bytes";
import type { LmBatch } from "../data";
import { type GPT, generate, maskedCrossEntropy } from "../model";
import { NGRAM_BITS_PER_BYTE, ngramBaseline } from "../ngram";
import type { DataParallel } from "../parallel";
import { FUSED_LM_HEAD_VOCAB, nextTokenLoss } from "../parallel/losses";
import type { Tokenizer } from "../tokenizer";
import type { JobContext, RunSummary } from "./context";
import { gradientsByName, lossAndGradientsByName } from "./gradients";
import { dataParallelWorkers, runTrainingLoop, type WorkersSetting } from "./loop";
import { microBatchSplit } from "./memory-plan";

export interface LmLoopOptions {
  kind: "pretrain" | "sft";
  ctx: JobContext;
  model: GPT;
  tokenizer: Tokenizer;
  optim: OptimConfig;
  cadence: CadenceConfig;
  maxSteps: number;
  seed: number;
  /** Steps already done (a resumed run), and the optimiser state saved with them. */
  startStep: number;
  optimizerState?: Map<string, tf.Tensor>;
  /** The batch of optimiser step `step`, micro-step `micro` (a pure function of both). */
  trainBatch: (step: number, micro: number) => LmBatch;
  /** The fixed held-out batches. */
  evalBatches: LmBatch[];
  /** UTF-8 bytes per token of the held-out text, for bits per byte (default: of the evaluated targets). */
  bytesPerToken?: number;
  /**
   * The references beside the model (issue 16): a 5-gram Kneser–Ney model on `train` scored on the same
   * held-out batches at the start (eval/ngram_bits_per_byte), and the finished model compressing
   * `heldOutTexts` in chunks of `contextTokens` at the end (compress/*).
   */
  references?: { train: Iterable<ArrayLike<number>>; heldOutTexts: readonly string[]; contextTokens: number };
  /** Prompts (as token ids) generated from at each evaluation, with how to show them. */
  samplePrompts: { text: string; ids: number[] }[];
  sampleMaxTokens: number;
  /** Worker threads splitting each batch (data parallelism; "auto": one per core); 1 = this thread. */
  workers?: WorkersSetting;
}

export { NonFiniteLossError } from "./adamw";

/** UTF-8 bytes per counted target token of `batches` (SFT's response tokens when the loss is masked). */
export function countedBytesPerToken(batches: readonly LmBatch[], tokenizer: Tokenizer): number | undefined {
  const table = tokenByteTable(tokenizer);
  let bytes = 0;
  let tokens = 0;
  for (const batch of batches) {
    for (let i = 0; i < batch.y.length; i++) {
      if (batch.mask && batch.mask[i] === 0) continue;
      bytes += table[batch.y[i]!]?.length ?? 0;
      tokens += 1;
    }
  }
  return bytes > 0 ? bytes / tokens : undefined;
}

function toTensors(batch: LmBatch) {
  const shape: [number, number] = [batch.batchSize, batch.length];
  return {
    x: tf.tensor2d(batch.x, shape, "int32"),
    y: tf.tensor2d(batch.y, shape, "int32"),
    mask: batch.mask ? tf.tensor2d(batch.mask, shape, "float32") : undefined,
  };
}

/** Part `part` of `parts` equal row slices of `batch` (parts divides its rows). */
function batchRows(batch: LmBatch, part: number, parts: number): LmBatch {
  const rows = batch.batchSize / parts;
  const from = part * rows * batch.length;
  const to = from + rows * batch.length;
  const mask = batch.mask?.subarray(from, to);
  return {
    x: batch.x.subarray(from, to),
    y: batch.y.subarray(from, to),
    ...(mask ? { mask } : {}),
    batchSize: rows,
    length: batch.length,
    tokens: mask ? mask.reduce((a, b) => a + b, 0) : rows * batch.length,
  };
}

/** Mean loss of one batch and the gradients of what the model trains (by parameter name; LoRA's too). */
export function lossAndGradients(
  model: GPT,
  batch: LmBatch,
): { loss: number; grads: Map<string, tf.Tensor> } {
  const { x, y, mask } = toTensors(batch);
  try {
    return lossAndGradientsByName(model.trainableParams(), () => nextTokenLoss(model, x, y, mask));
  } finally {
    x.dispose();
    y.dispose();
    mask?.dispose();
  }
}

/**
 * The same as lossAndGradients, computed by the data-parallel workers: each takes a slice of the rows and
 * divides its loss by the whole batch's counted tokens (see languageModelLoss), so the average of their
 * gradients is the whole batch's mean over its tokens.
 */
async function parallelGradients(
  parallel: DataParallel,
  model: GPT,
  batch: LmBatch,
): Promise<{ loss: number; grads: Map<string, tf.Tensor> }> {
  const shape = [batch.batchSize, batch.length];
  const { loss, grads } = await parallel.gradients(
    {
      inputIds: { values: batch.x, shape, dtype: "int32" },
      targets: { values: batch.y, shape, dtype: "int32" },
      ...(batch.mask ? { lossMask: { values: batch.mask, shape, dtype: "float32" } } : {}),
    },
    // Without a mask every row counts the same positions: the plain mean per shard is exact.
    batch.mask ? { options: { tokens: Math.max(1, batch.tokens), rows: batch.batchSize } } : {},
  );
  return { loss, grads: gradientsByName(model.trainableParams(), grads) };
}

/** Mean loss and next-token accuracy over batches, without gradients. */
export function evaluate(model: GPT, batches: LmBatch[]): { loss: number; accuracy: number } {
  let lossSum = 0;
  let correct = 0;
  let tokens = 0;
  for (const batch of batches) {
    const [batchLoss, batchCorrect] = tf.tidy(() => {
      const { x, y, mask } = toTensors(batch);
      const logits = model.forward(x, { logits: "all", returnHidden: false }).logits!;
      const loss = maskedCrossEntropy(logits, y, mask);
      const hits = tf.cast(tf.equal(tf.argMax(logits, -1), y), "float32");
      const counted = mask ? tf.sum(tf.mul(hits, mask)) : tf.sum(hits);
      return [loss.dataSync()[0]!, counted.dataSync()[0]!];
    });
    lossSum += batchLoss * batch.tokens;
    correct += batchCorrect;
    tokens += batch.tokens;
  }
  return {
    loss: tokens > 0 ? lossSum / tokens : Number.NaN,
    accuracy: tokens > 0 ? correct / tokens : Number.NaN,
  };
}

export async function runLmLoop(o: LmLoopOptions): Promise<RunSummary> {
  const { ctx, model, tokenizer, optim, cadence, maxSteps } = o;
  const bytesPerToken = o.bytesPerToken ?? countedBytesPerToken(o.evalBatches, tokenizer);

  // The n-gram baseline on the same held-out batches (plain counting: no tensors, no random numbers).
  const baseline =
    o.references && bytesPerToken
      ? ngramBaseline({
          train: o.references.train,
          evalBatches: o.evalBatches,
          bytesPerToken,
          vocabSize: tokenizer.vocabSize,
        })
      : undefined;
  if (baseline) {
    ctx.telemetry.metrics(o.startStep, { [NGRAM_BITS_PER_BYTE]: baseline.bitsPerByte });
    ctx.log(
      `${baseline.order}-gram baseline: ${baseline.bitsPerByte.toFixed(3)} bits/byte (${baseline.seconds.toFixed(1)} s)`,
    );
  }

  const evalAndSample = async (step: number) => {
    const result = evaluate(model, o.evalBatches);
    const values: Record<string, number> = {
      "eval/loss": result.loss,
      "eval/mean_token_accuracy": result.accuracy,
    };
    if (bytesPerToken) values["eval/bits_per_byte"] = result.loss / Math.LN2 / bytesPerToken;
    ctx.telemetry.metrics(step, values);
    if (o.samplePrompts.length > 0) {
      const { tokens } = await generate(
        model,
        o.samplePrompts.map((p) => p.ids),
        {
          maxNewTokens: o.sampleMaxTokens,
          temperature: 0.8,
          topK: 40,
          seed: o.seed + step,
          eosTokenId: tokenizer.eosId,
          padTokenId: tokenizer.padId,
        },
      );
      for (const [i, prompt] of o.samplePrompts.entries()) {
        ctx.telemetry.sample({
          step,
          prompt: prompt.text,
          response: tokenizer.decode(tokens[i]!, { skipSpecial: true }),
        });
      }
    }
    ctx.log(
      `step ${step}: eval/loss ${result.loss.toFixed(4)}${values["eval/bits_per_byte"] ? `, ${values["eval/bits_per_byte"].toFixed(3)} bits/byte` : ""}`,
    );
    return values;
  };

  // Memory (wasm's 4 GiB heap): a batch that would not fit is split into the largest micro-batch that does,
  // accumulated to the same update; when one row does not fit, stop now, saying what it needs.
  const probe = o.trainBatch(o.startStep, 0);
  const workers = o.workers ?? 1;
  const split = microBatchSplit(ctx, model, {
    items: probe.batchSize,
    seqLen: probe.length,
    gradAccumSteps: optim.gradAccumSteps,
    workers: dataParallelWorkers(workers, ctx.backend.name, probe.batchSize),
    head: model.config.vocabSize >= FUSED_LM_HEAD_VOCAB ? "fused" : "logits",
    what: "sequences",
  });
  const loopOptim = split > 1 ? { ...optim, gradAccumSteps: optim.gradAccumSteps * split } : optim;
  const result = await runTrainingLoop<null>({
    kind: o.kind,
    ctx,
    model,
    tokenizer,
    optim: loopOptim,
    totalSteps: maxSteps,
    startStep: o.startStep,
    optimizerState: o.optimizerState,
    dataParallel: { workers, rows: probe.batchSize / split },
    plan: (step, parallel) => ({
      updates: 1,
      microStep: async (_update, micro) => {
        const whole = o.trainBatch(step, Math.floor(micro / split));
        const batch = split > 1 ? batchRows(whole, micro % split, split) : whole;
        const { loss, grads } = parallel
          ? await parallelGradients(parallel, model, batch)
          : lossAndGradients(model, batch);
        return { loss, grads, tokens: batch.batchSize * batch.length, stats: null };
      },
    }),
    metrics: ({ losses }) => ({ loss: losses[0]! }),
    logEvery: cadence.logEvery,
    evaluate: evalAndSample,
    evalEvery: cadence.evalEvery,
    checkpointEvery: cadence.checkpointEvery,
  });
  const lastEvalLoss = result.lastEval?.["eval/loss"];
  // The finished model as a compressor of held-out text, beside gzip -9 (the run page's model facts).
  const fact =
    o.references && result.finished
      ? await compressionFact({
          model,
          tokenizer,
          heldOutTexts: o.references.heldOutTexts,
          backend: ctx.backend,
          contextTokens: o.references.contextTokens,
          checkpointRef: `run:${ctx.runId}`,
        })
      : undefined;
  if (fact) {
    ctx.telemetry.metrics(result.steps, {
      [COMPRESSION_METRICS.bitsPerByte]: fact.bitsPerByte,
      [COMPRESSION_METRICS.gzipBitsPerByte]: fact.gzipBitsPerByte,
      [COMPRESSION_METRICS.bytes]: fact.bytes,
    });
    ctx.log(
      `compresses ${fact.bytes} bytes of held-out text to ${fact.bitsPerByte.toFixed(3)} bits/byte (gzip -9: ${fact.gzipBitsPerByte.toFixed(3)}; ${fact.seconds.toFixed(1)} s)`,
    );
  }
  return {
    steps: result.steps,
    loss: result.loss,
    "eval/loss": lastEvalLoss ?? null,
    "eval/bits_per_byte":
      lastEvalLoss !== undefined && bytesPerToken ? lastEvalLoss / Math.LN2 / bytesPerToken : null,
    tokens_seen: result.tokensSeen,
    parameters: model.numParams(),
    seconds: result.seconds,
    ...(baseline ? { [NGRAM_BITS_PER_BYTE]: baseline.bitsPerByte, ngram_order: baseline.order } : {}),
    ...(fact ? { [COMPRESSION_METRICS.bitsPerByte]: fact.bitsPerByte } : {}),
  };
}
