/**
 * Stage 4 — PPO against a reward model, after CleanRL's ppo.py and "The N implementation details of
 * RLHF with PPO" (Huang et al.), with TRL's metric names. One iteration:
 *
 *   1. rollout: sample prompts, generate responses with temperature-scaled logits, truncate after the
 *      first end-of-text;
 *   2. score: the reward model on prompt + response (normalised) and/or reward functions (rl/rewards),
 *      minus a penalty when there is no end token; evaluation functions (the demo's oracle) are logged;
 *   3. per-token rewards: −β·KL(π‖π_ref) at every token, plus the score at the last real token;
 *   4. advantages: GAE as a reversed loop, then whitened;
 *   5. update: epochs × shuffled minibatches of the clipped policy loss and the clipped value loss;
 *   6. adapt β (adaptive KL), log, sample, checkpoint.
 *
 * The reference policy (the SFT checkpoint) and the reward model are frozen; there is no dropout.
 */
import path from "node:path";
import { type PpoConfig, type RewardTerm, rewardTermSchema } from "@rlhf/core/configs";
import * as tf from "@tensorflow/tfjs";
import { loadCheckpoint, saveCheckpoint } from "../checkpoint";
import { loadPrompts } from "../data";
import { entropyFromLogits, type GPT, hashSeed, logProbsOf, mulberry32 } from "../model";
import type { DataParallel, HostTensor } from "../parallel";
import {
  PPO_ROW_STATS,
  type PpoLossSettings,
  ppoLossTerms,
  ppoRolloutTerms,
  rolloutLossBatch,
} from "../parallel/losses-rl";
import { meanStd } from "../rl/grpo-math";
import { computeGae, KlController, klPerToken, maskedMean, maskedWhiten, permutation } from "../rl/ppo-math";
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
import { evaluationScores } from "./group-policy";
import { loadRlModels } from "./rl-policy";

/** A rollout: the sampled completions (rl/rollout.ts) with per-token statistics and their scores. */
interface Rollout extends Completions {
  /** [B, R] log-probs of the policy (old) and of the reference, values and entropy. */
  logprobs: Float32Array;
  refLogprobs: Float32Array;
  values: Float32Array;
  entropy: Float32Array;
  /** The reward per response (missingEosPenalty applied), and every function's raw score. */
  scores: number[];
  rewardScores: Record<string, number[]>;
  rewardMetrics: Record<string, number>;
  /** The evaluation functions' scores (logged, not optimised), when the config lists them. */
  evaluation?: { perFunction: Record<string, number[]>; metrics: Record<string, number> };
  prompts: string[];
}

/**
 * The functions PPO optimises, as one reward spec: the reward model (`rewardModel`, normalised, weight 1),
 * the `rewardFunction` shorthand, and every term of `rewards`, summed.
 */
export function ppoRewardTerms(
  config: Pick<PpoConfig, "rewardModel" | "rewardFunction" | "rewards">,
): RewardTerm[] {
  const terms: RewardTerm[] = [];
  if (config.rewardModel)
    terms.push(
      rewardTermSchema.parse({ function: "reward_model", params: { checkpoint: config.rewardModel } }),
    );
  if (config.rewardFunction === "sentiment") terms.push(rewardTermSchema.parse({ function: "sentiment" }));
  else if (config.rewardFunction?.startsWith("contains:"))
    terms.push(
      rewardTermSchema.parse({
        function: "contains",
        params: { text: config.rewardFunction.slice("contains:".length), perOccurrence: true },
      }),
    );
  return [...terms, ...(config.rewards ?? [])];
}

/** The models PPO trains, with their optimiser parameters under one namespace ("policy/…", "value/…"). */
interface Learner {
  policy: GPT;
  /** A separate value model (valueModel: "reward"), else undefined and the policy's value head is used. */
  valueModel?: GPT;
  params: Map<string, tf.Variable>;
}

/**
 * Log-probs (at temperature), entropy and values of the response tokens: the logits at position P−1+t
 * predict response token t, and the value of that state is read at the same position.
 */
function responseStats(
  learner: Pick<Learner, "policy" | "valueModel">,
  inputIds: tf.Tensor2D,
  attention: tf.Tensor2D,
  responses: tf.Tensor2D,
  promptLength: number,
  temperature: number,
  withValues: boolean,
): { logprobs: tf.Tensor2D; entropy: tf.Tensor2D; values?: tf.Tensor2D } {
  const [batch] = inputIds.shape;
  const responseLength = responses.shape[1];
  const out = completionLogits(
    learner.policy,
    inputIds,
    attention,
    promptLength,
    responseLength,
    temperature,
  );
  const logprobs = logProbsOf(out.logits, responses) as tf.Tensor2D;
  const entropy = entropyFromLogits(out.logits) as tf.Tensor2D;
  if (!withValues) return { logprobs, entropy };
  const valueSource = learner.valueModel
    ? learner.valueModel.forward(inputIds, { attentionMask: attention, logits: "none", returnHidden: false })
        .scores!
    : out.values!;
  const values = tf.slice(valueSource, [0, promptLength - 1], [batch, responseLength]) as tf.Tensor2D;
  return { logprobs, entropy, values };
}

/** A PPO run: its settings, models, rewards and prompts, and the KL controller. */
interface PpoRun {
  config: PpoConfig;
  ctx: JobContext;
  learner: Learner;
  reference: GPT;
  tokenizer: Tokenizer;
  rewards: RewardSet;
  evaluation?: RewardSet;
  prompts: string[];
  kl: KlController;
  loss: PpoLossSettings;
  miniBatchSize: number;
  miniBatchesPerEpoch: number;
}

async function rollout(
  run: PpoRun,
  prompts: string[],
  seed: number,
  step: number,
  timing: RolloutTiming,
  parallel?: DataParallel,
): Promise<Rollout> {
  const { tokenizer, config } = run;
  const lap = lapTimer(timing);
  // 1. Generate with temperature-scaled logits; rows stop after their first end-of-text.
  const c = await sampleCompletions(
    run.learner.policy,
    tokenizer,
    prompts.map((p) => tokenizer.formatChat(p).ids),
    {
      maxNewTokens: config.responseLength,
      temperature: config.temperature,
      seed,
      stopAtEos: config.stopAtEos,
    },
    parallel,
  );
  lap("generation");

  // 2. Log-probs of the policy (old) and the reference, values, entropy — no gradients.
  const stats = await rolloutStatsOf(run, c, parallel);
  lap("reference");

  // 3. Scores of prompt + response (the score is computed on the truncated text); a penalty when a
  //    response did not end.
  const batch: RewardBatch = {
    prompts,
    completions: c.texts,
    promptIds: c.promptIds,
    completionIds: c.completionIds,
    ended: c.endedWithEos,
    groups: prompts.map((_, i) => i),
    step,
  };
  const scored = await scoreRewards(run.rewards, batch);
  const evaluation = run.evaluation ? await scoreRewards(run.evaluation, batch) : undefined;
  lap("reward");
  const scores = scored.total.map((s, b) =>
    c.endedWithEos[b] || !config.stopAtEos ? s : s - config.missingEosPenalty,
  );

  return {
    ...c,
    logprobs: stats[0]!,
    refLogprobs: stats[1]!,
    values: stats[2]!,
    entropy: stats[3]!,
    scores,
    rewardScores: scored.perFunction,
    rewardMetrics: scored.metrics,
    evaluation,
    prompts,
  };
}

/**
 * The rollout's log-probs under the policy (old) and the reference, values and entropy, without gradients.
 * With workers they compute the policy's (and, with LoRA, the reference's: the adapters off) on shares of the
 * rows while this thread computes a separate reference model's.
 */
async function rolloutStatsOf(run: PpoRun, c: Completions, parallel?: DataParallel): Promise<Float32Array[]> {
  const { config } = run;
  const here = (models: Pick<Learner, "policy" | "valueModel">, withValues: boolean) =>
    tf.tidy(() => {
      const t = rolloutTensors(c);
      const out = responseStats(
        models,
        t.inputIds,
        t.attention,
        t.responses,
        c.promptLength,
        config.temperature,
        withValues,
      );
      return [out.logprobs, ...(withValues ? [out.values!, out.entropy] : [])].map(
        (x) => x.dataSync() as Float32Array,
      );
    });
  if (!parallel) {
    const [logprobs, values, entropy] = here(run.learner, true);
    const [ref] = here({ policy: run.reference }, false);
    return [logprobs!, ref!, values!, entropy!];
  }
  const temperature = config.temperature;
  const policy = workerRolloutStats(parallel, c, { temperature, values: true });
  const ref = run.learner.policy.lora
    ? (await workerRolloutStats(parallel, c, { temperature, adapters: false })).logprobs!
    : here({ policy: run.reference }, false)[0]!;
  const p = await policy;
  return [p.logprobs!, ref, p.values!, p.entropy!];
}

/** Statistics of one PPO micro-batch (TRL's names in the metrics). */
interface PpoStats {
  approxKl: number;
  clipFrac: number;
  pgLoss: number;
  vLoss: number;
  vClipFrac: number;
  entropy: number;
  ratio: number;
}

/** The value function is a head on the policy unless a separate value model (from the reward model) is asked for. */
const useHeadFor = (config: PpoConfig) => config.valueModel === "head";

export async function trainPpo(config: PpoConfig, ctx: JobContext): Promise<RunSummary> {
  // 0. Models: policy (+ value head or a separate value model), frozen reference (with LoRA: the policy
  //    with its adapters off), frozen reward model.
  const rewardDir = config.rewardModel ? await ctx.resolveCheckpoint(config.rewardModel) : undefined;
  if (!useHeadFor(config) && !rewardDir)
    throw new JobInputError('valueModel "reward" needs a rewardModel to start the value model from');
  const resumeDir = ctx.resumeFrom?.path;
  const useHead = useHeadFor(config);
  const models = await loadRlModels(ctx, config, { valueHead: useHead, withReference: true });
  const { policy, tokenizer, resumedState } = models;
  let valueModel: GPT | undefined;
  let rewardSet: RewardSet | undefined;
  let evaluationSet: RewardSet | undefined;

  try {
    valueModel = useHead
      ? undefined
      : (
          await loadCheckpoint(resumeDir ? path.join(resumeDir, "value_model") : rewardDir!, {
            rewardHead: true,
          })
        ).model;
    // The reward: the reward model and the functions (rl/rewards); evaluation functions are only logged.
    const env = {
      tokenizer,
      resolveCheckpoint: (ref: string) => ctx.resolveCheckpoint(ref),
      log: (message: string, level?: "info" | "warn") => ctx.log(message, level),
    };
    rewardSet = await loadRewards(ppoRewardTerms(config), env);
    evaluationSet = config.evaluation.length > 0 ? await loadRewards(config.evaluation, env) : undefined;
    const prompts = await loadPrompts(ctx.database, config.prompts, "train");
    if (prompts.length === 0)
      throw new JobInputError(`prompts dataset "${config.prompts}" has no training prompts`);

    // What the optimiser updates: the policy's trainable parameters (with LoRA: its adapters and value
    // head) and the value model's, under one namespace ("policy/…", "value/…").
    const params = new Map<string, tf.Variable>();
    for (const [name, v] of policy.trainableParams()) params.set(`policy/${name}`, v);
    if (valueModel) for (const [name, v] of valueModel.params) params.set(`value/${name}`, v);
    // Only a resumed PPO run continues a count; the SFT checkpoint's own trainer state is not ours.
    const startIteration = resumedState?.step ?? 0;
    const B = config.rolloutBatchSize;
    const miniBatchSize = Math.max(1, Math.floor(B / config.miniBatches));
    const miniBatchesPerEpoch = Math.floor(B / miniBatchSize);
    if (config.gradAccumSteps > miniBatchSize) {
      throw new JobInputError(
        `gradAccumSteps ${config.gradAccumSteps} splits minibatches of ${miniBatchSize} rollouts into empty micro-batches; use at most ${miniBatchSize}`,
      );
    }
    const run: PpoRun = {
      config,
      ctx,
      learner: { policy, valueModel, params },
      reference: models.reference!,
      tokenizer,
      rewards: rewardSet,
      evaluation: evaluationSet,
      prompts,
      kl: new KlController(
        Number(resumedState?.data?.klCoef ?? config.klCoef),
        config.adaptiveKl,
        config.klTarget,
        config.klHorizon,
      ),
      loss: {
        clipRange: config.clipRange,
        clipRangeValue: config.clipRangeValue,
        valueLossCoef: config.valueLossCoef,
        temperature: config.temperature,
      },
      miniBatchSize,
      miniBatchesPerEpoch,
    };
    if (valueModel && config.workers !== 1)
      ctx.log('workers: PPO with valueModel "reward" (two models) trains on this thread', "warn");

    // The loop: a step is an iteration (rollout, then epochs × minibatches of updates, each of
    // gradAccumSteps micro-batches); the learning rate is annealed linearly over iterations.
    let current: PpoIteration | undefined;
    const result = await runTrainingLoop<PpoStats>({
      kind: "ppo",
      ctx,
      model: policy,
      tokenizer,
      params,
      decays: (name, v) => v.rank >= 2 && !name.includes("v_head"),
      optim: config,
      schedule: "linear",
      totalSteps: config.iterations,
      startStep: startIteration,
      optimizerState: models.optimizerState,
      optimizerSteps: Number(
        resumedState?.data?.optimizerSteps ?? startIteration * config.ppoEpochs * miniBatchesPerEpoch,
      ),
      dataParallel: valueModel
        ? undefined
        : {
            workers: config.workers,
            // The smallest micro-batch's rows: no more threads than it can share.
            rows: Math.floor(miniBatchSize / config.gradAccumSteps),
            loss: { module: new URL("../parallel/losses-rl.ts", import.meta.url).href, name: "ppoLoss" },
          },
      plan: async (iteration, parallel) => {
        const p = await prepareIteration(run, iteration, parallel);
        current = p;
        return iterationPlan(run, iteration, p, parallel);
      },
      metrics: (o) => iterationMetrics(run, current!, o),
      checkpointEvery: config.checkpointEvery,
      checkpointPrefix: "iter",
      checkpointData: () => ({ klCoef: run.kl.value }),
      saveWith: async (dir) => {
        await models.saveWith(dir);
        if (valueModel) await saveCheckpoint(path.join(dir, "value_model"), valueModel, tokenizer);
      },
    });
    const { last } = result;
    return {
      iterations: result.steps,
      "objective/scores": last["objective/scores"] ?? null,
      "objective/kl": last["objective/kl"] ?? null,
      "objective/oracle_score": last["objective/oracle_score"] ?? null,
      kl_coef: run.kl.value,
    };
  } finally {
    valueModel?.dispose();
    rewardSet?.dispose();
    evaluationSet?.dispose();
    models.dispose();
  }
}

/** One rollout, its advantages and the minibatch order of every epoch: all an iteration's updates need. */
interface PpoIteration {
  r: Rollout;
  klTokens: Float32Array;
  nonScore: Float32Array;
  gae: { advantages: Float32Array; returns: Float32Array };
  advantages: Float32Array;
  orders: number[][];
  timing: RolloutTiming;
}

async function prepareIteration(
  run: PpoRun,
  iteration: number,
  parallel?: DataParallel,
): Promise<PpoIteration> {
  const { config } = run;
  const B = config.rolloutBatchSize;
  const seed = hashSeed(config.seed, `ppo/${iteration}`);
  const random = mulberry32(seed);

  // 1–2. Rollout and scores.
  const timing = rolloutTiming();
  const prompts = Array.from({ length: B }, () => run.prompts[Math.floor(random() * run.prompts.length)]!);
  const r = await rollout(run, prompts, seed, iteration, timing, parallel);
  const { responseLength: R, mask } = r;

  // 3. Per-token rewards: KL penalty everywhere, the score at the last real token.
  const klTokens = klPerToken(r.logprobs, r.refLogprobs, config.klEstimator);
  const nonScore = new Float32Array(B * R);
  let rewards: Float32Array = new Float32Array(B * R);
  for (let b = 0; b < B; b++) {
    let lastReal = -1;
    for (let t = 0; t < R; t++) {
      const i = b * R + t;
      if (!mask[i]) continue;
      nonScore[i] = -run.kl.value * klTokens[i]!;
      rewards[i] = nonScore[i]!;
      lastReal = i;
    }
    if (lastReal >= 0) rewards[lastReal] = rewards[lastReal]! + r.scores[b]!;
  }
  // Reward whitening (optional) keeps the mean: it rescales without changing the sign of the signal.
  if (config.whitenRewards) rewards = maskedWhiten(rewards, mask, false);

  // 4. Advantages by GAE, whitened; returns are the value targets.
  const gae = computeGae(rewards, r.values, mask, B, R, config.gamma, config.lam);
  const advantages = config.whitenAdvantages ? maskedWhiten(gae.advantages, mask) : gae.advantages;
  // 5. The shuffled order of each PPO epoch (drawn after the rollout's prompts, from the same stream).
  const orders = Array.from({ length: config.ppoEpochs }, () => permutation(B, random));
  return { r, klTokens, nonScore, gae, advantages, orders, timing };
}

/** The updates of an iteration: ppoEpochs × minibatches, each of gradAccumSteps micro-batches. */
function iterationPlan(run: PpoRun, iteration: number, p: PpoIteration, parallel?: DataParallel) {
  const { config, miniBatchSize, miniBatchesPerEpoch } = run;
  return {
    updates: config.ppoEpochs * miniBatchesPerEpoch,
    tokens: p.r.mask.reduce((a, b) => a + b, 0),
    microStep: (update: number, micro: number) => {
      const order = p.orders[Math.floor(update / miniBatchesPerEpoch)]!;
      const start = (update % miniBatchesPerEpoch) * miniBatchSize;
      const split = (k: number) => start + Math.floor((k * miniBatchSize) / config.gradAccumSteps);
      return ppoMicroStep(run, iteration, p, order.slice(split(micro), split(micro + 1)), parallel);
    },
  };
}

/** The loss batch of some rows of the rollout (parallel/losses-rl.ts ppoLoss), as host arrays. */
function ppoLossBatch(p: PpoIteration, rows: number[]): Record<string, HostTensor> {
  const { batch, pick } = rolloutLossBatch(p.r, rows, p.r.mask);
  return {
    ...batch,
    oldLogprobs: pick(p.r.logprobs),
    oldValues: pick(p.r.values),
    advantages: pick(p.advantages),
    returns: pick(p.gae.returns),
  };
}

/**
 * The PPO loss of a loss batch on this thread, with the learner's value model when it has one: the same
 * terms as the workers' ppoLoss. Returns the loss, its gradients and the per-row statistics [b, 8].
 */
function localPpoGradients(run: PpoRun, p: PpoIteration, batch: Record<string, HostTensor>, tokens: number) {
  const { learner, config } = run;
  const t = hostTensors(batch);
  const rows = batch.mask!.shape[0]!;
  let kept: tf.Tensor | undefined;
  try {
    const result = lossAndGradientsByName(learner.params, () => {
      const now = responseStats(
        learner,
        t.inputIds as tf.Tensor2D,
        t.attention as tf.Tensor2D,
        t.responses as tf.Tensor2D,
        p.r.promptLength,
        config.temperature,
        true,
      );
      const out = ppoLossTerms(
        { logprobs: now.logprobs, entropy: now.entropy, values: now.values! },
        ppoRolloutTerms(t),
        run.loss,
        { rows, microRows: rows, microTokens: tokens },
      );
      // Diagnostics, kept outside the gradient tape's tidy.
      kept = tf.keep(tf.clone(out.rows.stats!));
      return out.loss;
    });
    const stats = kept!.dataSync() as Float32Array;
    return { ...result, stats };
  } finally {
    kept?.dispose();
    tf.dispose(Object.values(t));
  }
}

/** The clipped policy and value losses on some rows of the rollout, their gradients and statistics. */
async function ppoMicroStep(
  run: PpoRun,
  iteration: number,
  p: PpoIteration,
  rows: number[],
  parallel?: DataParallel,
): Promise<MicroStep<PpoStats>> {
  const batch = ppoLossBatch(p, rows);
  const tokens = (batch.mask!.values as Float32Array).reduce((a, m) => a + m, 0);
  let result: { loss: number; grads: Map<string, tf.Tensor>; stats: Float32Array };
  if (parallel) {
    const out = await parallel.gradients(batch, { options: { ...run.loss } });
    result = {
      loss: out.loss,
      grads: gradientsByName(run.learner.params, out.grads),
      stats: out.rows.stats!.values as Float32Array,
    };
  } else {
    result = localPpoGradients(run, p, batch, tokens);
  }
  // Masked means over the micro-batch's tokens, from the per-row sums (columns: PPO_ROW_STATS).
  const width = PPO_ROW_STATS.length;
  const [approxKl, clipFrac, pg, vl, vClip, entropy, ratio] = PPO_ROW_STATS.map((_, k) => {
    let sum = 0;
    for (let b = 0; b < rows.length; b++) sum += result.stats[b * width + k]!;
    return sum / Math.max(tokens, 1);
  }) as [number, number, number, number, number, number, number];
  if (!Number.isFinite(result.loss) || !Number.isFinite(pg) || !Number.isFinite(vl)) {
    tf.dispose([...result.grads.values()]);
    throw new NonFiniteLossError(
      `PPO loss is not finite at iteration ${iteration + 1} (policy ${pg}, value ${vl}); stopping without saving`,
    );
  }
  return {
    loss: result.loss,
    grads: result.grads,
    stats: {
      approxKl,
      clipFrac,
      pgLoss: pg,
      vLoss: vl,
      vClipFrac: vClip,
      entropy,
      ratio,
    },
  };
}

/** TRL's metrics of an iteration; adapts β; stores samples every `sampleEvery` iterations. */
function iterationMetrics(run: PpoRun, p: PpoIteration, o: StepOutcome<PpoStats>): Record<string, number> {
  const { config, ctx, kl } = run;
  const B = config.rolloutBatchSize;
  const { r, klTokens, nonScore, gae } = p;
  const { responseLength: R, mask } = r;
  const iteration = o.step;
  const perSequence = (x: Float32Array) =>
    Array.from({ length: B }, (_, b) =>
      x.subarray(b * R, (b + 1) * R).reduce((s, v, t) => s + v * mask[b * R + t]!, 0),
    );
  const klSum = perSequence(klTokens);
  const nonScoreSum = perSequence(nonScore);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const stat = (key: keyof PpoStats) => mean(o.stats.map((s) => s[key]));
  const meanKl = mean(klSum);
  const meanScore = mean(r.scores);
  // The gold reward beside the proxy: the evaluation functions' weighted sum (the demo: the AFINN oracle).
  const oracle = r.evaluation ? evaluationScores(config.evaluation, r.evaluation) : undefined;
  const metrics = {
    "objective/kl": meanKl,
    "objective/entropy": mean(perSequence(r.entropy)),
    "objective/non_score_reward": mean(nonScoreSum),
    "objective/rlhf_reward": meanScore + mean(nonScoreSum),
    "objective/scores": meanScore,
    "objective/kl_coef": kl.value,
    ...r.rewardMetrics,
    ...r.evaluation?.metrics,
    ...(oracle ? { "objective/oracle_score": mean(oracle) } : {}),
    "policy/approxkl_avg": stat("approxKl"),
    "policy/clipfrac_avg": stat("clipFrac"),
    "policy/entropy_avg": stat("entropy"),
    "loss/policy_avg": stat("pgLoss"),
    "loss/value_avg": stat("vLoss"),
    "val/clipfrac_avg": stat("vClipFrac"),
    "val/ratio": stat("ratio"),
    // TRL's: the (Bessel) variance across the iteration's micro-batches of each one's mean ratio.
    "val/ratio_var": meanStd(o.stats.map((s) => s.ratio)).std ** 2,
    "val/num_eos_tokens": r.endedWithEos.filter(Boolean).length,
    "val/mean_response_length": o.tokens / B,
    "val/advantages_mean": maskedMean(gae.advantages, mask),
    episode: iteration * B,
    ...timingMetrics(p.timing, o.seconds),
  };
  kl.update(meanKl, B);
  if (iteration % config.sampleEvery === 0 || iteration === config.iterations || iteration === 1) {
    for (let b = 0; b < Math.min(4, B); b++) {
      ctx.telemetry.sample({
        step: iteration,
        prompt: r.prompts[b]!,
        response: r.texts[b]!,
        reward: r.scores[b],
        kl: klSum[b],
        extra: {
          ...Object.fromEntries(Object.entries(r.rewardScores).map(([name, xs]) => [name, xs[b]])),
          ...Object.fromEntries(
            Object.entries(r.evaluation?.perFunction ?? {}).map(([name, xs]) => [name, xs[b]]),
          ),
          ...(oracle ? { oracle_score: oracle[b] } : {}),
          ended: r.endedWithEos[b],
        },
      });
    }
    ctx.log(
      `iteration ${iteration}: score ${meanScore.toFixed(3)}, KL ${meanKl.toFixed(3)}${oracle ? `, oracle ${mean(oracle).toFixed(2)}` : ""}`,
    );
  }
  return metrics;
}
