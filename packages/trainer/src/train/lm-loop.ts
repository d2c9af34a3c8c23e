/**
 * The language-model training loop that pretraining and SFT share, read top to bottom as nanoGPT's:
 * learning rate → micro-steps (forward, backward, accumulate) → clip → step → log → eval + samples →
 * checkpoint → stop. Only the data differs between the two stages.
 */
import path from "node:path";
import type { CadenceConfig, OptimConfig } from "@rlhf/core/configs";
import * as tf from "@tensorflow/tfjs";
import { saveCheckpoint } from "../checkpoint";
import type { LmBatch } from "../data";
import type { JobContext, RunSummary } from "../jobs/context";
import { type GPT, generate, maskedCrossEntropy } from "../model";
import { DataParallel } from "../parallel";
import type { Tokenizer } from "../tokenizer";
import { AdamW, optimizerStep } from "./adamw";
import { cosineLearningRate } from "./schedule";

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
  /** UTF-8 bytes per token of the held-out text, for bits per byte (undefined: not reported). */
  bytesPerToken?: number;
  /** Prompts (as token ids) generated from at each evaluation, with how to show them. */
  samplePrompts: { text: string; ids: number[] }[];
  sampleMaxTokens: number;
  /** Worker threads splitting each batch (data parallelism); 1 computes gradients on this thread. */
  workers?: number;
}

export { NonFiniteLossError } from "./adamw";

function toTensors(batch: LmBatch) {
  const shape: [number, number] = [batch.batchSize, batch.length];
  return {
    x: tf.tensor2d(batch.x, shape, "int32"),
    y: tf.tensor2d(batch.y, shape, "int32"),
    mask: batch.mask ? tf.tensor2d(batch.mask, shape, "float32") : undefined,
  };
}

/** Mean loss of one batch and the gradients of the model's parameters (by parameter name). */
export function lossAndGradients(
  model: GPT,
  batch: LmBatch,
): { loss: number; grads: Map<string, tf.Tensor> } {
  const { x, y, mask } = toTensors(batch);
  const variables = model.trainableVariables();
  const byVariable = new Map(variables.map((v) => [v.name, v]));
  const nameOf = new Map([...model.params].map(([name, v]) => [v.name, name]));
  try {
    const { value, grads } = tf.variableGrads(
      () => maskedCrossEntropy(model.forward(x, { logits: "all", returnHidden: false }).logits!, y, mask),
      [...byVariable.values()],
    );
    const loss = value.dataSync()[0]!;
    value.dispose();
    const named = new Map<string, tf.Tensor>();
    for (const [variableName, g] of Object.entries(grads)) named.set(nameOf.get(variableName)!, g);
    return { loss, grads: named };
  } finally {
    x.dispose();
    y.dispose();
    mask?.dispose();
  }
}

/**
 * The same as lossAndGradients, computed by the data-parallel workers: each takes a slice of the rows,
 * and the row-weighted mean of their gradients is the full batch's when every row counts the same
 * number of positions (pretraining; for SFT it weights conversations equally).
 */
async function parallelGradients(
  parallel: DataParallel,
  model: GPT,
  batch: LmBatch,
): Promise<{ loss: number; grads: Map<string, tf.Tensor> }> {
  const shape = [batch.batchSize, batch.length];
  const { loss, grads } = await parallel.gradients({
    inputIds: { values: batch.x, shape, dtype: "int32" },
    targets: { values: batch.y, shape, dtype: "int32" },
    ...(batch.mask ? { lossMask: { values: batch.mask, shape, dtype: "float32" } } : {}),
  });
  const nameOf = new Map([...model.params].map(([name, v]) => [v.name, name]));
  return { loss, grads: new Map(Object.entries(grads).map(([variable, g]) => [nameOf.get(variable)!, g])) };
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
  const optimizer = new AdamW(model.params, {
    beta1: optim.beta1,
    beta2: optim.beta2,
    epsilon: optim.epsilon,
    weightDecay: optim.weightDecay,
  });
  if (o.optimizerState) optimizer.loadState(o.optimizerState, o.startStep);

  const lrAt = (step: number) =>
    cosineLearningRate(step, {
      peak: optim.learningRate,
      min: optim.minLearningRate,
      warmupSteps: optim.warmupSteps,
      totalSteps: maxSteps,
    });
  let lastEval: { loss: number; accuracy: number } | undefined;
  let lastLoss = Number.NaN;
  let tokensSeen = 0;
  const trainStart = Date.now();

  const save = async (step: number, isFinal: boolean) => {
    const dir = path.join(ctx.runDir, "checkpoints", `step-${String(step).padStart(6, "0")}`);
    const metrics: Record<string, number> = { loss: lastLoss };
    if (lastEval) metrics["eval/loss"] = lastEval.loss;
    await saveCheckpoint(dir, model, tokenizer, {
      optimizerState: optimizer.stateTensors(),
      trainerState: { kind: o.kind, step, metrics },
    });
    await ctx.checkpoint(step, dir, { metrics, isFinal });
  };

  const evalAndSample = async (step: number) => {
    lastEval = evaluate(model, o.evalBatches);
    const values: Record<string, number> = {
      "eval/loss": lastEval.loss,
      "eval/mean_token_accuracy": lastEval.accuracy,
    };
    if (o.bytesPerToken) values["eval/bits_per_byte"] = lastEval.loss / Math.LN2 / o.bytesPerToken;
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
      `step ${step}: eval/loss ${lastEval.loss.toFixed(4)}${values["eval/bits_per_byte"] ? `, ${values["eval/bits_per_byte"].toFixed(3)} bits/byte` : ""}`,
    );
  };

  // Data parallelism: worker threads with their own backends split each batch; gradients are averaged here.
  const parallel =
    (o.workers ?? 1) > 1
      ? await DataParallel.create(model, { workers: o.workers, backend: ctx.backend.name })
      : undefined;
  if (parallel) ctx.log(`data parallel: ${o.workers} worker threads on ${ctx.backend.name}`);

  let step = o.startStep;
  try {
    while (step < maxSteps) {
      if (ctx.signal.aborted) break;
      const stepStart = performance.now();
      // 1. Learning rate of this step (warm-up, then cosine decay).
      const lr = lrAt(step);

      // 2. Micro-steps: forward and backward on each micro-batch, gradients summed.
      let accumulated: Map<string, tf.Tensor> | undefined;
      let lossSum = 0;
      let stepTokens = 0;
      for (let micro = 0; micro < optim.gradAccumSteps; micro++) {
        const batch = o.trainBatch(step, micro);
        const { loss, grads } = parallel
          ? await parallelGradients(parallel, model, batch)
          : lossAndGradients(model, batch);
        lossSum += loss;
        stepTokens += batch.batchSize * batch.length;
        if (!accumulated) accumulated = grads;
        else
          for (const [name, g] of grads) {
            const sum = tf.add(accumulated.get(name)!, g);
            accumulated.get(name)!.dispose();
            g.dispose();
            accumulated.set(name, sum);
          }
      }
      const grads = accumulated!;
      if (optim.gradAccumSteps > 1) {
        for (const [name, g] of grads) {
          grads.set(name, tf.div(g, optim.gradAccumSteps));
          g.dispose();
        }
      }
      const loss = lossSum / optim.gradAccumSteps;

      // 3–4. A NaN or infinite loss stops the run before the optimiser (or a checkpoint) can spread it;
      //      otherwise clip by global norm and take the AdamW step.
      const gradNorm = optimizerStep(optimizer, grads, {
        loss,
        lr,
        gradClip: optim.gradClip,
        step: step + 1,
      });
      step += 1;
      lastLoss = loss;
      tokensSeen += stepTokens;

      // 5. Log.
      const seconds = (performance.now() - stepStart) / 1000;
      if (step % cadence.logEvery === 0 || step === maxSteps) {
        ctx.telemetry.metrics(step, {
          loss,
          lr,
          grad_norm: gradNorm,
          "perf/tokens_per_sec": stepTokens / seconds,
          "perf/step_seconds": seconds,
        });
      }
      await ctx.progress(step, maxSteps);

      // 6. Evaluate and sample; checkpoint.
      if (step % cadence.evalEvery === 0 || step === maxSteps) await evalAndSample(step);
      if (step % cadence.checkpointEvery === 0 && step < maxSteps) await save(step, false);
    }

    // 7. Stop: a final checkpoint, also when cancelled or shut down (so the work is kept).
    if (step > o.startStep || step === maxSteps) await save(step, step === maxSteps);
  } finally {
    optimizer.dispose();
    await parallel?.dispose();
  }
  const elapsed = (Date.now() - trainStart) / 1000;
  return {
    steps: step,
    loss: lastLoss,
    "eval/loss": lastEval?.loss ?? null,
    "eval/bits_per_byte": lastEval && o.bytesPerToken ? lastEval.loss / Math.LN2 / o.bytesPerToken : null,
    tokens_seen: tokensSeen,
    parameters: model.numParams(),
    seconds: elapsed,
  };
}
