/**
 * The one training loop every trainer runs, read top to bottom as nanoGPT's: learning rate → micro-steps
 * (forward, backward, accumulate) → NaN stop, clip, step → log → evaluate → checkpoint → stop.
 *
 * A trainer supplies what differs: the plan of a step (its micro-steps, each returning loss, gradients by
 * parameter name and statistics), the metrics of a finished step, an evaluation, and what a checkpoint
 * carries besides the weights. The loop owns the rest: the optimiser (built from the config, restored on
 * resume), the learning-rate schedule, gradient accumulation, clipping, the NaN stop, the cadence of
 * logging, evaluation and checkpoints, progress, cancellation and data parallelism.
 *
 * A step is what the run counts, logs and checkpoints: one optimiser update for the supervised trainers
 * (pretraining, SFT, the reward model, DPO); for on-policy trainers one rollout followed by several
 * updates (PPO: epochs × minibatches of the rollout), each of them `gradAccumSteps` micro-steps.
 */
import os from "node:os";
import path from "node:path";
import type { OptimConfig } from "@rlhf/core/configs";
import type * as tf from "@tensorflow/tfjs";
import { saveCheckpoint } from "../checkpoint";
import { batchIndices } from "../data";
import type { GPT } from "../model";
import { DataParallel, type DataParallelOptions } from "../parallel";
import type { Tokenizer } from "../tokenizer";
import { type AdamWOptions, createOptimizer, optimizerStep } from "./adamw";
import type { JobContext } from "./context";
import { accumulateGradients, averageGradients } from "./gradients";
import { learningRateAt, type ScheduleShape } from "./schedule";

/** What one micro-step (forward and backward on one micro-batch) gives back. */
export interface MicroStep<S> {
  /** Mean loss of the micro-batch. */
  loss: number;
  /** Gradients of that loss by parameter name (train/gradients.ts); the loop takes ownership. */
  grads: Map<string, tf.Tensor>;
  /** Tokens it processed, for perf/tokens_per_sec. */
  tokens?: number;
  stats: S;
}

/** How a step runs: `updates` optimiser updates of `gradAccumSteps` micro-steps each. */
export interface StepPlan<S> {
  updates: number;
  microStep: (update: number, micro: number) => MicroStep<S> | Promise<MicroStep<S>>;
  /** Tokens of the step when the micro-steps do not count them (a rollout's generated tokens). */
  tokens?: number;
}

/** A finished step, as the trainer's `metrics` sees it. */
export interface StepOutcome<S> {
  /** Steps done, this one included (the step number logged). */
  step: number;
  lr: number;
  /** Mean loss of each update. */
  losses: number[];
  /** Global gradient norm of each update, before clipping. */
  gradNorms: number[];
  /** Statistics of every micro-step, in order (update-major). */
  stats: S[];
  tokens: number;
  seconds: number;
}

/**
 * The examples of micro-step `micro` of step `step`: `batchSize` drawn without replacement, epoch by epoch,
 * in a seeded order (a pure function of step and micro-step, so a resumed run sees the same data).
 */
export function microBatchExamples<T>(
  examples: T[],
  o: { batchSize: number; seed: number; gradAccumSteps: number },
  step: number,
  micro: number,
): T[] {
  const index = step * o.gradAccumSteps + micro;
  return batchIndices(examples.length, o.batchSize, o.seed, index).map((i) => examples[i]!);
}

/**
 * A supervised step: one update of `gradAccumSteps` micro-steps over microBatchExamples — each split into
 * `split` equal parts when a batch does not fit in memory whole (the loop then runs gradAccumSteps × split
 * micro-steps; `o.gradAccumSteps` stays the config's).
 */
export function supervisedStep<T, S>(
  examples: T[],
  o: { batchSize: number; seed: number; gradAccumSteps: number },
  step: number,
  microStep: (items: T[]) => MicroStep<S> | Promise<MicroStep<S>>,
  split = 1,
): StepPlan<S> {
  return {
    updates: 1,
    microStep: (_update, micro) => {
      const items = microBatchExamples(examples, o, step, Math.floor(micro / split));
      if (split === 1) return microStep(items);
      const part = items.length / split;
      const at = (micro % split) * part;
      return microStep(items.slice(at, at + part));
    },
  };
}

/** A config's `workers`: a number of threads, or "auto". */
export type WorkersSetting = number | "auto";

/**
 * The data-parallel worker threads a run gets on `backend` — the one place "auto" is resolved: one per core
 * (os.availableParallelism()) on wasm and cpu, whose kernels run on one thread; 1 on tensorflow, whose
 * kernels already use every core, and on webgpu, where every thread would open its own device on the one
 * GPU (no gain) — there even a number asked for gives 1. Never more threads than a micro-step has `rows`
 * (a thread without rows would only cost its start).
 */
export function dataParallelWorkers(
  workers: WorkersSetting | undefined,
  backend: string,
  rows?: number,
): number {
  if (backend === "webgpu") return 1;
  const asked =
    workers === "auto"
      ? backend === "wasm" || backend === "cpu"
        ? os.availableParallelism()
        : 1
      : (workers ?? 1);
  return Math.max(1, Math.min(asked, rows ?? asked));
}

/** The run log's line on the threads a run computes with. */
function workersLine(asked: WorkersSetting, resolved: number, backend: string): string {
  const why =
    asked === "auto"
      ? `workers: auto, ${os.availableParallelism()} cores`
      : asked === resolved
        ? `workers: ${asked}`
        : `workers: ${asked}, at most one per row of a micro-batch`;
  return resolved > 1
    ? `data parallel: ${resolved} worker threads on ${backend} (${why})`
    : `data parallel: off, this thread computes on ${backend} (${why})`;
}

export interface TrainingLoopOptions<S> {
  /** Written into each checkpoint's trainer_state.json. */
  kind: string;
  ctx: JobContext;
  /** The model each checkpoint saves. */
  model: GPT;
  tokenizer: Tokenizer;
  /** What the optimiser updates, by name (default: the model's trainable parameters, LoRA's included). */
  params?: Map<string, tf.Variable>;
  /** Which parameters decay (default: matrices and embeddings). */
  decays?: AdamWOptions["decays"];
  optim: OptimConfig;
  /** Shape of the schedule after warm-up (default cosine). */
  schedule?: ScheduleShape;
  totalSteps: number;
  /** Steps already done (a resumed run), the optimiser state saved with them and its update count. */
  startStep: number;
  optimizerState?: Map<string, tf.Tensor>;
  optimizerSteps?: number;
  /**
   * Worker threads splitting each batch (data parallelism, for the trainers whose loss they know):
   * `workers` as the config says, resolved by dataParallelWorkers with `rows`, the rows of a micro-step.
   */
  dataParallel?: { workers: WorkersSetting; rows?: number } & Pick<DataParallelOptions, "loss">;
  /** The micro-steps of step `step` (0-based), given the data-parallel workers when there are any. */
  plan: (step: number, parallel?: DataParallel) => StepPlan<S> | Promise<StepPlan<S>>;
  /**
   * The trainer's metrics of a finished step (logged with lr, grad_norm and perf/*, and kept for the
   * next checkpoint's record). It may also store samples.
   */
  metrics: (outcome: StepOutcome<S>) => Record<string, number>;
  logEvery?: number;
  /** Evaluation, at `evaluateAt(step)` (default: every `evalEvery` steps and at the end). */
  evaluate?: (step: number) => Promise<Record<string, number> | undefined>;
  evalEvery?: number;
  evaluateAt?: (step: number) => boolean;
  checkpointEvery: number;
  /** Directory names of checkpoints: `<prefix>-000100` (default "step"). */
  checkpointPrefix?: string;
  /** Trainer state besides the step (e.g. PPO's KL coefficient), saved and given back on resume. */
  checkpointData?: () => Record<string, unknown>;
  /** Write more into a checkpoint directory (e.g. a separate value model). */
  saveWith?: (dir: string) => Promise<void>;
  /** Before the final checkpoint of a finished run: extra JSON files for it (the reward normalisation). */
  beforeFinalCheckpoint?: (step: number) => Promise<Record<string, unknown> | undefined>;
}

export interface TrainingLoopResult {
  /** Steps done (less than totalSteps when the run was cancelled or shut down). */
  steps: number;
  finished: boolean;
  /** Mean loss of the last step. */
  loss: number;
  /** The trainer's metrics of the last step and the last evaluation. */
  last: Record<string, number>;
  lastEval?: Record<string, number>;
  tokensSeen: number;
  seconds: number;
}

/** The run's workers (undefined: this thread computes), said in the log. */
async function startDataParallel<S>(o: TrainingLoopOptions<S>): Promise<DataParallel | undefined> {
  if (!o.dataParallel) return undefined;
  const { ctx } = o;
  const asked = o.dataParallel.workers;
  const workers = dataParallelWorkers(asked, ctx.backend.name, o.dataParallel.rows);
  if (ctx.backend.name === "webgpu" && asked !== "auto" && asked > 1) {
    ctx.log(
      `workers: ${asked} ignored on webgpu: one GPU device computes on the main thread (use a larger batch instead)`,
      "warn",
    );
  } else ctx.log(workersLine(asked, workers, ctx.backend.name));
  if (workers === 1) return undefined;
  return DataParallel.create(o.model, {
    workers,
    backend: ctx.backend.name,
    ...(o.dataParallel.loss ? { loss: o.dataParallel.loss } : {}),
  });
}

export async function runTrainingLoop<S>(o: TrainingLoopOptions<S>): Promise<TrainingLoopResult> {
  const { ctx, optim, totalSteps } = o;
  // Default: what the model trains — every parameter, or LoRA's adapters (+ a kept head) with the base frozen.
  const optimizer = createOptimizer(o.params ?? o.model.trainableParams(), optim, o.decays);
  if (o.optimizerState) optimizer.loadState(o.optimizerState, o.optimizerSteps ?? o.startStep);
  const logEvery = o.logEvery ?? 1;
  const evaluateAt =
    o.evaluateAt ?? ((step: number) => step % (o.evalEvery ?? totalSteps) === 0 || step === totalSteps);

  let last: Record<string, number> = {};
  let lastEval: Record<string, number> | undefined;
  let lastLoss = Number.NaN;
  let tokensSeen = 0;
  const trainStart = Date.now();

  const save = async (step: number, isFinal: boolean, extraFiles?: Record<string, unknown>) => {
    const dir = path.join(
      ctx.runDir,
      "checkpoints",
      `${o.checkpointPrefix ?? "step"}-${String(step).padStart(6, "0")}`,
    );
    const metrics = { ...last, ...lastEval };
    await saveCheckpoint(dir, o.model, o.tokenizer, {
      optimizerState: optimizer.stateTensors(),
      trainerState: {
        kind: o.kind,
        step,
        data: { ...o.checkpointData?.(), optimizerSteps: optimizer.step },
        metrics,
      },
      extraFiles,
    });
    await o.saveWith?.(dir);
    await ctx.checkpoint(step, dir, { metrics, isFinal });
  };

  // Data parallelism: worker threads with their own backends split each batch; gradients are averaged here.
  const parallel = await startDataParallel(o);
  let step = o.startStep;
  try {
    while (step < totalSteps) {
      if (ctx.signal.aborted) break;
      const stepStart = performance.now();
      // 1. Learning rate of this step (warm-up, then the schedule's decay).
      const lr = learningRateAt(step, {
        shape: o.schedule ?? "cosine",
        peak: optim.learningRate,
        min: optim.minLearningRate,
        warmupSteps: optim.warmupSteps,
        totalSteps,
      });
      const plan = await o.plan(step, parallel);
      const outcome: StepOutcome<S> = {
        step: step + 1,
        lr,
        losses: [],
        gradNorms: [],
        stats: [],
        tokens: plan.tokens ?? 0,
        seconds: 0,
      };
      for (let update = 0; update < plan.updates; update++) {
        // 2. Micro-steps: forward and backward on each micro-batch, gradients summed, then averaged.
        let grads: Map<string, tf.Tensor> | undefined;
        let lossSum = 0;
        try {
          for (let micro = 0; micro < optim.gradAccumSteps; micro++) {
            const m = await plan.microStep(update, micro);
            grads = accumulateGradients(grads, m.grads);
            lossSum += m.loss;
            if (plan.tokens === undefined) outcome.tokens += m.tokens ?? 0;
            outcome.stats.push(m.stats);
          }
        } catch (error) {
          for (const g of grads?.values() ?? []) g.dispose();
          throw error;
        }
        const loss = lossSum / optim.gradAccumSteps;
        // 3. A NaN or infinite loss stops the run before the optimiser (or a checkpoint) can spread it;
        //    otherwise clip by global norm and take the AdamW step.
        outcome.gradNorms.push(
          optimizerStep(optimizer, averageGradients(grads!, optim.gradAccumSteps), {
            loss,
            lr,
            gradClip: optim.gradClip,
            step: step + 1,
          }),
        );
        outcome.losses.push(loss);
      }
      step += 1;
      lastLoss = outcome.losses.reduce((a, b) => a + b, 0) / Math.max(1, outcome.losses.length);
      tokensSeen += outcome.tokens;

      // 4. Log.
      outcome.seconds = (performance.now() - stepStart) / 1000;
      last = o.metrics(outcome);
      if (step % logEvery === 0 || step === totalSteps) {
        ctx.telemetry.metrics(step, {
          ...last,
          lr,
          grad_norm: outcome.gradNorms.reduce((a, b) => a + b, 0) / Math.max(1, outcome.gradNorms.length),
          "perf/tokens_per_sec": outcome.tokens / outcome.seconds,
          "perf/step_seconds": outcome.seconds,
        });
      }
      await ctx.progress(step, totalSteps);

      // 5. Evaluate; checkpoint.
      if (o.evaluate && evaluateAt(step)) lastEval = (await o.evaluate(step)) ?? lastEval;
      if (step % o.checkpointEvery === 0 && step < totalSteps) await save(step, false);
    }

    // 6. Stop: a final checkpoint, also when cancelled or shut down (so the work is kept).
    const finished = step === totalSteps;
    if (finished) await save(step, true, await o.beforeFinalCheckpoint?.(step));
    else if (step > o.startStep) await save(step, false);
    return {
      steps: step,
      finished,
      loss: lastLoss,
      last,
      lastEval,
      tokensSeen,
      seconds: (Date.now() - trainStart) / 1000,
    };
  } finally {
    optimizer.dispose();
    await parallel?.dispose();
  }
}
