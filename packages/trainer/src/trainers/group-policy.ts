/**
 * What GRPO and RLOO share, as TRL's GRPOTrainer and RLOOTrainer do: G completions per prompt scored by
 * reward functions, a baseline from the group instead of a value model, and μ clipped-ratio passes over
 * each batch. One round (a step of the training loop):
 *
 *   1. rollout: `promptsPerIteration` prompts, each G times in a row (a group), completions sampled at
 *      `temperature` / `topP` up to `maxCompletionLength` tokens;
 *   2. log-probs without gradients: the policy's (π_old) and, when β > 0, the SFT model's (π_ref);
 *   3. rewards: every function of `rewards` (weighted, optionally normalised, summed) and of `evaluation`
 *      (logged only);
 *   4. advantages: the algorithm's (GRPO: group-normalised; RLOO: leave-one-out, KL folded into the reward);
 *   5. update: `numIterations` passes, each over `miniBatches` minibatches of whole groups in a shuffled
 *      order, each minibatch one optimiser update of `gradAccumSteps` micro-batches;
 *   6. TRL's metrics, samples with every function's score and the group, checkpoint.
 */
import type { GrpoConfig, RlooConfig } from "@rlhf/core/configs";
import { epsilonHighOf } from "@rlhf/core/configs";
import * as tf from "@tensorflow/tfjs";
import { loadPrompts } from "../data";
import { type GPT, hashSeed, logProbsOf, mulberry32 } from "../model";
import type { DataParallel, HostTensor } from "../parallel";
import { type GroupLossSettings, groupPolicyLoss, rolloutLossBatch } from "../parallel/losses-rl";
import { clipRatioMetrics, completionMetrics, maskTruncated, meanStd } from "../rl/grpo-math";
import { permutation } from "../rl/ppo-math";
import { loadRewards, type RewardBatch, type RewardSet, scoreRewards } from "../rl/rewards";
import {
  type Completions,
  completionLogits,
  hostTensors,
  rolloutTensors,
  sampleCompletions,
  workerRolloutStats,
} from "../rl/rollout";
import type { Tokenizer } from "../tokenizer";
import { NonFiniteLossError } from "../train/adamw";
import { type JobContext, JobInputError, type RunSummary } from "../train/context";
import { gradientsByName, lossAndGradientsByName } from "../train/gradients";
import { type MicroStep, runTrainingLoop, type StepOutcome } from "../train/loop";
import { lapTimer, type RolloutTiming, rolloutTiming, timingMetrics } from "../train/timing";
import { loadRlModels } from "./rl-policy";

export type GroupConfig = GrpoConfig | RlooConfig;

/** One round's rollout with everything its updates and metrics need. */
export interface GroupRound {
  r: Completions;
  groupSize: number;
  /** [B, R] log-probs of π_old and (β > 0) π_ref at the rollout temperature. */
  oldLogprobs: Float32Array;
  refLogprobs?: Float32Array;
  /** [B, R] tokens in the loss (the completion mask, without truncated rows when masked). */
  lossMask: Float32Array;
  /** Σ weight · (normalised) score of the optimised functions, per completion. */
  rewards: number[];
  scores: Awaited<ReturnType<typeof scoreRewards>>;
  evaluation?: Awaited<ReturnType<typeof scoreRewards>>;
  /** One advantage per completion. */
  advantages: Float32Array;
  /** The algorithm's metrics of the round (reward_std, frac_reward_zero_std, …). */
  metrics: Record<string, number>;
  /** Group order of each pass. */
  orders: number[][];
  /** Seconds the round's rollout spent generating, in the forward passes without gradients and scoring. */
  timing: RolloutTiming;
}

/**
 * What differs between GRPO and RLOO besides the loss (parallel/losses-rl.ts, chosen by `kind`): the
 * advantages (and the round's algorithm metrics) from the rewards and the rollout's log-probs.
 */
export interface GroupAlgorithm<C extends GroupConfig> {
  kind: "grpo" | "rloo";
  advantages(
    round: Omit<GroupRound, "advantages" | "metrics" | "orders" | "timing">,
    config: C,
  ): {
    advantages: Float32Array;
    metrics: Record<string, number>;
  };
}

interface GroupStats {
  clip: ReturnType<typeof clipRatioMetrics>;
  entropy: number;
  kl?: number;
}

/** A run of the group trainer: its settings, models, rewards and prompts. */
interface GroupRun<C extends GroupConfig> {
  algorithm: GroupAlgorithm<C>;
  config: C;
  ctx: JobContext;
  policy: GPT;
  reference?: GPT;
  tokenizer: Tokenizer;
  rewardSet: RewardSet;
  evaluationSet?: RewardSet;
  prompts: string[];
  loss: GroupLossSettings;
  /** Prompt and completion tokens so far (TRL's num_tokens). */
  numTokens: number;
}

export async function trainGroupPolicy<C extends GroupConfig>(
  algorithm: GroupAlgorithm<C>,
  config: C,
  ctx: JobContext,
): Promise<RunSummary> {
  const G = config.numGenerations;
  const P = config.promptsPerIteration;
  const rowsPerMiniBatch = (P / config.miniBatches) * G;
  if (config.gradAccumSteps > rowsPerMiniBatch)
    throw new JobInputError(
      `gradAccumSteps ${config.gradAccumSteps} is more than the ${rowsPerMiniBatch} completions of a minibatch`,
    );

  // 0. Models: the policy (resumed, or the SFT checkpoint; LoRA adapters on it) and, only when β > 0, the
  //    frozen reference (with LoRA: the policy with its adapters off).
  const models = await loadRlModels(ctx, config, { valueHead: false, withReference: config.beta > 0 });
  const { policy, reference, tokenizer, resumedState } = models;
  let rewardSet: RewardSet | undefined;
  let evaluationSet: RewardSet | undefined;
  try {
    const env = {
      tokenizer,
      resolveCheckpoint: (ref: string) => ctx.resolveCheckpoint(ref),
      log: (message: string, level?: "info" | "warn") => ctx.log(message, level),
    };
    rewardSet = await loadRewards(config.rewards, env);
    evaluationSet = config.evaluation.length > 0 ? await loadRewards(config.evaluation, env) : undefined;
    const prompts = await loadPrompts(ctx.database, config.prompts, "train");
    if (prompts.length === 0)
      throw new JobInputError(`prompts dataset "${config.prompts}" has no training prompts`);
    ctx.log(
      `${algorithm.kind}: ${P} prompts × ${G} completions per round; rewards ${config.rewards.map((t) => `${t.name}×${t.weight}`).join(" + ")}` +
        (config.evaluation.length > 0
          ? `; evaluation ${config.evaluation.map((t) => t.name).join(", ")}`
          : "") +
        (reference ? `; β ${config.beta} to the SFT model` : "; β 0: no reference model"),
    );
    // Only a resumed run of this trainer continues a count; the SFT checkpoint's trainer state is not ours.
    const startStep = resumedState?.step ?? 0;
    const run: GroupRun<C> = {
      algorithm,
      config,
      ctx,
      policy,
      reference,
      tokenizer,
      rewardSet,
      evaluationSet,
      prompts,
      loss: {
        kind: algorithm.kind,
        temperature: config.temperature,
        epsilon: config.epsilon,
        epsilonHigh: epsilonHighOf(config),
        beta: config.beta,
        lossType: "lossType" in config ? config.lossType : "grpo",
        importanceSamplingLevel:
          "importanceSamplingLevel" in config ? config.importanceSamplingLevel : "token",
        maxCompletionLength: config.maxCompletionLength,
        gradAccumSteps: config.gradAccumSteps,
      },
      numTokens: Number(resumedState?.data?.numTokens ?? 0),
    };

    // 5. The loop: a step is a round; its updates are numIterations × miniBatches.
    let current: GroupRound | undefined;
    const result = await runTrainingLoop<GroupStats>({
      kind: algorithm.kind,
      ctx,
      model: policy,
      tokenizer,
      // `epsilon` is the clip range here (TRL's names); Adam's is `adamEpsilon`.
      optim: { ...config, epsilon: config.adamEpsilon },
      schedule: "linear",
      totalSteps: config.iterations,
      startStep,
      optimizerState: models.optimizerState,
      optimizerSteps: Number(
        resumedState?.data?.optimizerSteps ?? startStep * config.numIterations * config.miniBatches,
      ),
      dataParallel: {
        workers: config.workers,
        // The smallest micro-batch's rows: no more threads than it can share.
        rows: Math.floor(rowsPerMiniBatch / config.gradAccumSteps),
        loss: { module: new URL("../parallel/losses-rl.ts", import.meta.url).href, name: "groupPolicyLoss" },
      },
      plan: async (step, parallel) => {
        const round = await prepareRound(run, step, parallel);
        current = round;
        return roundPlan(run, step, round, parallel);
      },
      metrics: (o) => roundMetrics(run, current!, o),
      checkpointEvery: config.checkpointEvery,
      checkpointData: () => ({ numTokens: run.numTokens }),
    });
    const { last } = result;
    return {
      rounds: result.steps,
      reward: last.reward ?? null,
      "objective/oracle_score": last["objective/oracle_score"] ?? null,
      kl: last.kl ?? null,
      "completions/mean_length": last["completions/mean_length"] ?? null,
      num_tokens: run.numTokens,
      seconds: result.seconds,
    };
  } finally {
    rewardSet?.dispose();
    evaluationSet?.dispose();
    models.dispose();
  }
}

/** No-gradient log-probs of the completions under `model`, [B, R]. */
function logprobsOf(model: GPT, r: Completions, temperature: number): Float32Array {
  return tf.tidy(() => {
    const t = rolloutTensors(r);
    const { logits } = completionLogits(
      model,
      t.inputIds,
      t.attention,
      r.promptLength,
      r.responseLength,
      temperature,
    );
    return logProbsOf(logits, t.responses).dataSync() as Float32Array;
  });
}

/**
 * The completions' log-probs under the sampling policy and (β > 0) the reference, without gradients. With
 * workers they compute the policy's (and, with LoRA, the reference's: the adapters off) on shares of the rows
 * while this thread computes a separate reference model's.
 */
async function roundLogprobs<C extends GroupConfig>(
  run: GroupRun<C>,
  r: Completions,
  parallel?: DataParallel,
): Promise<{ oldLogprobs: Float32Array; refLogprobs?: Float32Array }> {
  const temperature = run.config.temperature;
  if (!parallel) {
    return {
      oldLogprobs: logprobsOf(run.policy, r, temperature),
      refLogprobs: run.reference ? logprobsOf(run.reference, r, temperature) : undefined,
    };
  }
  const old = workerRolloutStats(parallel, r, { temperature });
  let refLogprobs: Float32Array | undefined;
  if (run.reference && run.policy.lora)
    refLogprobs = (await workerRolloutStats(parallel, r, { temperature, adapters: false })).logprobs;
  else if (run.reference) refLogprobs = logprobsOf(run.reference, r, temperature);
  return { oldLogprobs: (await old).logprobs!, refLogprobs };
}

/** 1–4. One round: rollout, log-probs, rewards, advantages, and the shuffled group order of each pass. */
async function prepareRound<C extends GroupConfig>(
  run: GroupRun<C>,
  step: number,
  parallel?: DataParallel,
): Promise<GroupRound> {
  const { config, tokenizer } = run;
  const G = config.numGenerations;
  const P = config.promptsPerIteration;
  const seed = hashSeed(config.seed, `${run.algorithm.kind}/${step}`);
  const random = mulberry32(seed);
  const chosen = Array.from({ length: P }, () => run.prompts[Math.floor(random() * run.prompts.length)]!);
  const rowPrompts = chosen.flatMap((p) => Array.from({ length: G }, () => p));
  const timing = rolloutTiming();
  const lap = lapTimer(timing);
  const r = await sampleCompletions(
    run.policy,
    tokenizer,
    rowPrompts.map((p) => tokenizer.formatChat(p).ids),
    {
      maxNewTokens: config.maxCompletionLength,
      temperature: config.temperature,
      topP: config.topP,
      seed,
      stopAtEos: true,
    },
    parallel,
  );
  lap("generation");
  const { oldLogprobs, refLogprobs } = await roundLogprobs(run, r, parallel);
  lap("reference");
  const batch: RewardBatch = {
    prompts: rowPrompts,
    completions: r.texts,
    promptIds: r.promptIds,
    completionIds: r.completionIds,
    ended: r.endedWithEos,
    groups: rowPrompts.map((_, i) => Math.floor(i / G)),
    step,
  };
  const scores = await scoreRewards(run.rewardSet, batch);
  const evaluation = run.evaluationSet ? await scoreRewards(run.evaluationSet, batch) : undefined;
  lap("reward");
  const lossMask = config.maskTruncatedCompletions
    ? maskTruncated(r.mask, r.endedWithEos, r.responseLength)
    : r.mask;
  const base = {
    r,
    groupSize: G,
    oldLogprobs,
    refLogprobs,
    lossMask,
    rewards: scores.total,
    scores,
    evaluation,
  };
  const { advantages, metrics } = run.algorithm.advantages(base, config);
  const orders = Array.from({ length: config.numIterations }, () => permutation(P, random));
  return { ...base, advantages, metrics, orders, timing };
}

/** The updates of a round: numIterations passes × miniBatches minibatches of whole groups. */
function roundPlan<C extends GroupConfig>(
  run: GroupRun<C>,
  step: number,
  round: GroupRound,
  parallel?: DataParallel,
) {
  const { config } = run;
  const G = config.numGenerations;
  const groupsPerMiniBatch = config.promptsPerIteration / config.miniBatches;
  // dapo's normaliser, as TRL's num_items_in_batch: the loss tokens of the whole generation batch.
  const batchTokens = round.lossMask.reduce((a, b) => a + b, 0);
  return {
    updates: config.numIterations * config.miniBatches,
    tokens: round.r.mask.reduce((a, b) => a + b, 0),
    microStep: (update: number, micro: number) => {
      const order = round.orders[Math.floor(update / config.miniBatches)]!;
      const start = (update % config.miniBatches) * groupsPerMiniBatch;
      const rows = order
        .slice(start, start + groupsPerMiniBatch)
        .flatMap((g) => Array.from({ length: G }, (_, j) => g * G + j));
      const split = (k: number) => Math.floor((k * rows.length) / config.gradAccumSteps);
      return groupMicroStep(
        run,
        step,
        round,
        rows.slice(split(micro), split(micro + 1)),
        batchTokens,
        parallel,
      );
    },
  };
}

/** The loss batch of some rows of a round (parallel/losses-rl.ts groupPolicyLoss), as host arrays. */
function groupLossBatch(round: GroupRound, rows: number[], batchTokens: number): Record<string, HostTensor> {
  const { batch, pick, column } = rolloutLossBatch(round.r, rows, round.lossMask);
  return {
    ...batch,
    oldLogprobs: pick(round.oldLogprobs),
    ...(round.refLogprobs ? { refLogprobs: pick(round.refLogprobs) } : {}),
    advantages: column(Float32Array.from(rows, (row) => round.advantages[row]!)),
    batchTokens: column(new Float32Array(rows.length).fill(batchTokens)),
  };
}

/** The loss on some rows of the round, its gradients and the clip, entropy and KL statistics. */
async function groupMicroStep<C extends GroupConfig>(
  run: GroupRun<C>,
  step: number,
  round: GroupRound,
  rows: number[],
  batchTokens: number,
  parallel?: DataParallel,
): Promise<MicroStep<GroupStats>> {
  const { policy } = run;
  const batch = groupLossBatch(round, rows, batchTokens);
  const settings = run.loss as unknown as Record<string, unknown>;
  let result: { loss: number; grads: Map<string, tf.Tensor> };
  let perRow: Record<string, { values: Float32Array | Int32Array; shape: number[] }>;
  if (parallel) {
    const out = await parallel.gradients(batch, { options: settings });
    result = { loss: out.loss, grads: gradientsByName(policy.trainableParams(), out.grads) };
    perRow = out.rows;
  } else {
    const tensors = hostTensors(batch);
    let kept: Record<string, tf.Tensor> = {};
    try {
      result = lossAndGradientsByName(policy.trainableParams(), () => {
        const out = groupPolicyLoss(policy, tensors, settings);
        // Diagnostics, kept outside the gradient tape's tidy.
        kept = Object.fromEntries(Object.entries(out.rows).map(([k, t]) => [k, tf.keep(tf.clone(t))]));
        return out.loss;
      });
    } finally {
      tf.dispose(Object.values(tensors));
    }
    perRow = Object.fromEntries(
      Object.entries(kept).map(([k, t]) => [k, { values: t.dataSync() as Float32Array, shape: t.shape }]),
    );
    tf.dispose(Object.values(kept));
  }
  if (!Number.isFinite(result.loss)) {
    tf.dispose([...result.grads.values()]);
    throw new NonFiniteLossError(
      `${run.algorithm.kind} loss is ${result.loss} at round ${step + 1}; stopping without saving (lower the learning rate?)`,
    );
  }
  const mask = batch.mask!.values as Float32Array;
  const tokens = Math.max(
    mask.reduce((a, m) => a + m, 0),
    1,
  );
  const sum = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0);
  const ratio = perRow.ratio!;
  const ratioWidth = ratio.shape[1]!;
  const stats: GroupStats = {
    clip: clipRatioMetrics(
      ratio.values as Float32Array,
      rows.map((row) => round.advantages[row]!),
      ratioWidth === 1 ? new Float32Array(rows.length).fill(1) : mask,
      rows.length,
      ratioWidth,
      run.loss.epsilon,
      run.loss.epsilonHigh,
    ),
    entropy: sum(perRow.entropy!.values) / tokens,
    ...(perRow.kl ? { kl: sum(perRow.kl.values) / tokens } : {}),
  };
  return { loss: result.loss, grads: result.grads, stats };
}

/** 6. TRL's metrics of a round, and samples every `sampleEvery` rounds. */
function roundMetrics<C extends GroupConfig>(
  run: GroupRun<C>,
  round: GroupRound,
  o: StepOutcome<GroupStats>,
): Record<string, number> {
  const { config, ctx, tokenizer } = run;
  const G = config.numGenerations;
  const { r } = round;
  const lengths = r.completionIds.map((ids) => ids.length);
  run.numTokens += r.promptIds.reduce((n, ids) => n + ids.length, 0) + lengths.reduce((a, b) => a + b, 0);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const clip = o.stats.map((s) => s.clip);
  const kls = o.stats.flatMap((s) => (s.kl === undefined ? [] : [s.kl]));
  const oracle = round.evaluation ? evaluationScores(config.evaluation, round.evaluation) : undefined;
  const metrics: Record<string, number> = {
    loss: mean(o.losses),
    num_tokens: run.numTokens,
    ...completionMetrics(lengths, r.endedWithEos),
    ...round.scores.metrics,
    ...round.evaluation?.metrics,
    // TRL: reward and reward_std from the raw weighted sum (before any per-function normalisation).
    reward: mean(round.scores.rawTotal),
    reward_std: meanStd(round.scores.rawTotal).std,
    ...round.metrics,
    entropy: mean(o.stats.map((s) => s.entropy)),
    "clip_ratio/low_mean": mean(clip.map((c) => c["clip_ratio/low_mean"])),
    "clip_ratio/low_min": Math.min(...clip.map((c) => c["clip_ratio/low_min"])),
    "clip_ratio/high_mean": mean(clip.map((c) => c["clip_ratio/high_mean"])),
    "clip_ratio/high_max": Math.max(...clip.map((c) => c["clip_ratio/high_max"])),
    "clip_ratio/region_mean": mean(clip.map((c) => c["clip_ratio/region_mean"])),
    episode: o.step * r.batch,
    ...timingMetrics(round.timing, o.seconds),
  };
  if (kls.length > 0) metrics.kl = mean(kls);
  if (oracle) metrics["objective/oracle_score"] = mean(oracle);
  const step = o.step;
  if (step % config.sampleEvery === 0 || step === config.iterations || step === 1) {
    // The first two groups, every completion with each function's score.
    for (let b = 0; b < Math.min(2 * G, r.batch); b++) {
      const extra: Record<string, unknown> = { group: Math.floor(b / G), ended: r.endedWithEos[b] };
      for (const [name, scores] of Object.entries(round.scores.perFunction)) extra[name] = scores[b];
      for (const [name, scores] of Object.entries(round.evaluation?.perFunction ?? {}))
        extra[name] = scores[b];
      extra.advantage = round.advantages[b];
      ctx.telemetry.sample({
        step,
        prompt: tokenizer.decode(r.promptIds[b]!, { skipSpecial: true }),
        response: r.texts[b]!.replaceAll("\u0000", "\uFFFD"),
        reward: round.rewards[b],
        extra,
      });
    }
    ctx.log(
      `round ${step}: reward ${metrics.reward!.toFixed(3)}${oracle ? `, oracle ${metrics["objective/oracle_score"]!.toFixed(2)}` : ""}${metrics.kl !== undefined ? `, KL ${metrics.kl.toFixed(4)}` : ""}, ended ${(100 * (1 - metrics["completions/clipped_ratio"]!)).toFixed(0)}%`,
    );
  }
  return metrics;
}

/**
 * The gold reward of each completion: the weighted sum of the evaluation functions' scores (logged as
 * objective/oracle_score, never optimised; the demo's AFINN oracle).
 */
export function evaluationScores(
  terms: { name: string; weight: number }[],
  scored: { perFunction: Record<string, number[]> },
): number[] {
  const rows = Object.values(scored.perFunction)[0]?.length ?? 0;
  return Array.from({ length: rows }, (_, b) =>
    terms.reduce((sum, term) => sum + term.weight * scored.perFunction[term.name]![b]!, 0),
  );
}
