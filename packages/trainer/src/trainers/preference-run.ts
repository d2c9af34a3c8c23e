/**
 * What the two trainers on preference rankings share (the reward model, DPO): the model to train — resumed,
 * or a checkpoint, with LoRA adapters when asked —, the rankings split by task, and the plan of a step on
 * wasm (the data-parallel workers a batch gets, and into how many micro-batches it is split to fit the heap).
 */
import type { LoraConfig, OptimConfig } from "@rlhf/core/configs";
import {
  describeRankingSources,
  loadRankingGroups,
  type PreferenceSplit,
  type RankingGroup,
  splitByTask,
} from "@rlhf/core/preferences";
import type * as tf from "@tensorflow/tfjs";
import { loadCheckpoint } from "../checkpoint";
import { addLora, type GPT } from "../model";
import type { DataParallel } from "../parallel";
import type { Tokenizer } from "../tokenizer";
import { type JobContext, JobInputError } from "../train/context";
import {
  dataParallelWorkers,
  type MicroStep,
  supervisedStep,
  type TrainingLoopOptions,
  type WorkersSetting,
} from "../train/loop";
import { type MicroBatchSplitOptions, microBatchSplit } from "../train/memory-plan";

export interface TrainableModel {
  model: GPT;
  tokenizer: Tokenizer;
  optimizerState?: Map<string, tf.Tensor>;
  startStep: number;
}

/**
 * The model a run trains: its last checkpoint when resumed, else the checkpoint at `initPath` — with fresh
 * LoRA adapters on the frozen base when `lora` is set (`trainable`: base parameters kept trainable, PEFT's
 * modules_to_save), saved as PEFT adapters naming the base. `prepare` runs on a new (not resumed) model
 * before the adapters (the reward model's new score head).
 */
export async function loadTrainable(
  ctx: JobContext,
  initPath: string,
  o: {
    rewardHead?: boolean;
    lora?: LoraConfig;
    seed: number;
    trainable?: string[];
    prepare?: (model: GPT) => void;
  },
): Promise<TrainableModel> {
  const resumed = ctx.resumeFrom !== undefined;
  const loaded = await loadCheckpoint(resumed ? ctx.resumeFrom!.path : initPath, {
    ...(o.rewardHead ? { rewardHead: true } : {}),
    withOptimizer: resumed,
  });
  const { model, tokenizer, optimizerState } = loaded;
  const startStep = resumed ? (loaded.trainerState?.step ?? ctx.resumeFrom!.step) : 0;
  if (!resumed) o.prepare?.(model);
  if (o.lora && !model.lora) {
    const adapters = addLora(model, o.lora, {
      seed: o.seed,
      baseModel: initPath,
      ...(o.trainable ? { trainable: o.trainable } : {}),
    });
    const kept = (o.trainable ?? []).reduce((n, name) => n + model.param(name).size, 0);
    ctx.log(
      `LoRA r=${o.lora.r} alpha=${o.lora.alpha} on ${adapters.modules.size} modules` +
        (o.trainable ? `, ${o.trainable.join(", ")} trained with them` : "") +
        `: ${adapters.numParams() + kept} trainable parameters`,
    );
  }
  return { model, tokenizer, optimizerState, startStep };
}

/** Free what loadTrainable gave. */
export function disposeTrainable(t: TrainableModel): void {
  t.model.dispose();
  if (t.optimizerState) for (const tensor of t.optimizerState.values()) tensor.dispose();
}

/** The rankings of the config's datasets, held-out split by task; a dataset problem is the config's error. */
export async function loadRankings(
  ctx: JobContext,
  config: { datasets: string[]; evalFraction: number },
): Promise<RankingGroup[]> {
  let groups: RankingGroup[];
  try {
    groups = await loadRankingGroups(ctx.database.db, config.datasets, { evalFraction: config.evalFraction });
  } catch (error) {
    throw new JobInputError((error as Error).message);
  }
  ctx.log(`rankings from ${describeRankingSources(groups)}`);
  return groups;
}

/**
 * Examples split by task (no prompt's examples on both sides); none to train on is the config's error,
 * `nothing` saying what there is not.
 */
export function splitForTraining<T extends { prompt: string; split: PreferenceSplit }>(
  items: T[],
  nothing: string,
): { train: T[]; held: T[] } {
  const { train, held } = splitByTask(items);
  if (train.length === 0) throw new JobInputError(nothing);
  return { train, held };
}

/**
 * What the loop needs to train `train` in micro-steps of `batchSize` elements: the workers the config asks for
 * (at most one per element, computing `loss`), and on wasm the split of each micro-step that fits each
 * worker's heap (the optimiser then accumulates gradAccumSteps × split micro-steps into one update).
 */
export function pairwiseLoopParts<T, S>(
  ctx: JobContext,
  model: GPT,
  config: OptimConfig & { batchSize: number; seed: number; workers: WorkersSetting },
  train: T[],
  o: Pick<MicroBatchSplitOptions, "rowsPerItem" | "seqLen" | "head" | "what"> & {
    loss: { module: string; name: string };
    microStep: (items: T[], parallel?: DataParallel) => Promise<MicroStep<S>>;
  },
): Pick<TrainingLoopOptions<S>, "optim" | "dataParallel" | "plan"> {
  const split = microBatchSplit(ctx, model, {
    rowsPerItem: o.rowsPerItem,
    seqLen: o.seqLen,
    head: o.head,
    what: o.what,
    items: config.batchSize,
    gradAccumSteps: config.gradAccumSteps,
    workers: dataParallelWorkers(config.workers, ctx.backend.name, config.batchSize),
  });
  return {
    optim: split > 1 ? { ...config, gradAccumSteps: config.gradAccumSteps * split } : config,
    dataParallel: { workers: config.workers, rows: config.batchSize / split, loss: o.loss },
    plan: (step, parallel) =>
      supervisedStep(train, config, step, (items) => o.microStep(items, parallel), split),
  };
}
