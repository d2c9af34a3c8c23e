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
import { loadCheckpoint } from "../checkpoint";
import { loadPrompts } from "../data";
import { type JobContext, JobInputError, type RunSummary } from "../train/context";
import { entropyFromLogits, type GPT, hashSeed, logProbsOf, mulberry32 } from "../model";
import { clipRatioMetrics, completionMetrics, maskTruncated, meanStd } from "../rl/grpo-math";
import { permutation } from "../rl/ppo-math";
import { loadRewards, type RewardBatch, type RewardSet, scoreRewards } from "../rl/rewards";
import { type Completions, completionLogits, rolloutTensors, sampleCompletions } from "../rl/rollout";
import { NonFiniteLossError } from "../train/adamw";
import { lossAndGradientsByName } from "../train/gradients";
import { type MicroStep, runTrainingLoop, type StepOutcome } from "../train/loop";
import { lapTimer, type RolloutTiming, rolloutTiming, timingMetrics } from "../train/timing";

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

/** The part of a micro-step's loss that differs between GRPO and RLOO. */
export interface GroupLossInput {
  /** [b, R] log-probs of the completions under the current policy (with gradients). */
  logprobs: tf.Tensor2D;
  oldLogprobs: tf.Tensor2D;
  refLogprobs?: tf.Tensor2D;
  /** [b] advantages, [b, R] loss mask. */
  advantages: tf.Tensor1D;
  mask: tf.Tensor2D;
  /** Loss-masked tokens of the whole generation batch (TRL's num_items_in_batch, dapo's normaliser). */
  batchTokens: number;
}

export interface GroupAlgorithm<C extends GroupConfig> {
  kind: "grpo" | "rloo";
  /** Advantages (and the round's algorithm metrics) from the rewards and the rollout's log-probs. */
  advantages(
    round: Omit<GroupRound, "advantages" | "metrics" | "orders" | "timing">,
    config: C,
  ): {
    advantages: Float32Array;
    metrics: Record<string, number>;
  };
  /**
   * The micro-batch loss (as the loop averages micro-batches, a loss TRL divides by the accumulation steps
   * is not divided here), the importance ratio for the clip metrics ([b, R] per token or [b, 1] per
   * sequence), and the masked mean KL when it is measured in the loss.
   */
  loss(input: GroupLossInput, config: C): { loss: tf.Scalar; ratio: tf.Tensor2D; kl?: tf.Scalar };
}

interface GroupStats {
  clip: ReturnType<typeof clipRatioMetrics>;
  entropy: number;
  kl?: number;
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
  const epsilonLow = config.epsilon;
  const epsilonHigh = epsilonHighOf(config);

  // 0. Models: the policy (resumed, or the SFT checkpoint) and, only when β > 0, the frozen reference.
  const policyDir = await ctx.resolveCheckpoint(config.policy);
  const resumeDir = ctx.resumeFrom?.path;
  const loaded = await loadCheckpoint(resumeDir ?? policyDir, { withOptimizer: resumeDir !== undefined });
  const { tokenizer } = loaded;
  const policy = loaded.model;
  const reference =
    config.beta > 0 ? (await loadCheckpoint(policyDir, { trainable: false })).model : undefined;
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
    const resumedState = resumeDir ? loaded.trainerState : undefined;
    const startStep = resumedState?.step ?? 0;
    let numTokens = Number(resumedState?.data?.numTokens ?? 0);

    /** No-gradient log-probs of the completions under `model`, [B, R]. */
    const logprobsOf = (model: GPT, r: Completions) =>
      tf.tidy(() => {
        const t = rolloutTensors(r);
        const { logits } = completionLogits(
          model,
          t.inputIds,
          t.attention,
          r.promptLength,
          r.responseLength,
          config.temperature,
        );
        return logProbsOf(logits, t.responses).dataSync() as Float32Array;
      });

    // 1–4. One round: rollout, log-probs, rewards, advantages, and the shuffled group order of each pass.
    const prepare = async (step: number): Promise<GroupRound> => {
      const seed = hashSeed(config.seed, `${algorithm.kind}/${step}`);
      const random = mulberry32(seed);
      const chosen = Array.from({ length: P }, () => prompts[Math.floor(random() * prompts.length)]!);
      const rowPrompts = chosen.flatMap((p) => Array.from({ length: G }, () => p));
      const timing = rolloutTiming();
      const lap = lapTimer(timing);
      const r = await sampleCompletions(
        policy,
        tokenizer,
        rowPrompts.map((p) => tokenizer.formatChat(p).ids),
        {
          maxNewTokens: config.maxCompletionLength,
          temperature: config.temperature,
          topP: config.topP,
          seed,
          stopAtEos: true,
        },
      );
      lap("generation");
      const oldLogprobs = logprobsOf(policy, r);
      const refLogprobs = reference ? logprobsOf(reference, r) : undefined;
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
      const scores = await scoreRewards(rewardSet!, batch);
      const evaluation = evaluationSet ? await scoreRewards(evaluationSet, batch) : undefined;
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
      const { advantages, metrics } = algorithm.advantages(base, config);
      const orders = Array.from({ length: config.numIterations }, () => permutation(P, random));
      return { ...base, advantages, metrics, orders, timing };
    };

    /** The loss on some rows of the round, its gradients and the clip, entropy and KL statistics. */
    const microStep = (step: number, round: GroupRound, rows: number[], batchTokens: number) => {
      const { r } = round;
      const R = r.responseLength;
      const t = rolloutTensors(r, rows);
      const inputs = {
        oldLogprobs: tf.tensor2d(t.pick(round.oldLogprobs), [t.b, R]),
        refLogprobs: round.refLogprobs ? tf.tensor2d(t.pick(round.refLogprobs), [t.b, R]) : undefined,
        advantages: tf.tensor1d(rows.map((row) => round.advantages[row]!)),
        mask: tf.tensor2d(t.pick(round.lossMask), [t.b, R]),
      };
      let observed: tf.Tensor[] = [];
      let result: { loss: number; grads: Map<string, tf.Tensor> };
      try {
        result = lossAndGradientsByName(policy.params, () => {
          const { logits } = completionLogits(
            policy,
            t.inputIds,
            t.attention,
            r.promptLength,
            R,
            config.temperature,
          );
          const logprobs = logProbsOf(logits, t.responses) as tf.Tensor2D;
          const out = algorithm.loss({ ...inputs, logprobs, batchTokens }, config);
          const count = tf.maximum(tf.sum(inputs.mask), 1);
          const entropy = tf.div(tf.sum(tf.mul(entropyFromLogits(logits), inputs.mask)), count);
          // Diagnostics, kept outside the gradient tape's tidy.
          observed = [out.ratio, entropy, ...(out.kl ? [out.kl] : [])].map((x) => tf.keep(tf.clone(x)));
          return out.loss;
        });
      } finally {
        tf.dispose([
          t.inputIds,
          t.attention,
          t.responses,
          ...Object.values(inputs).filter((x) => x !== undefined),
        ]);
      }
      const [ratio, entropy, kl] = observed.map((x) => x.dataSync() as Float32Array);
      const ratioWidth = observed[0]!.shape[1]!;
      tf.dispose(observed);
      if (!Number.isFinite(result.loss)) {
        tf.dispose([...result.grads.values()]);
        throw new NonFiniteLossError(
          `${algorithm.kind} loss is ${result.loss} at round ${step + 1}; stopping without saving (lower the learning rate?)`,
        );
      }
      const mask = ratioWidth === 1 ? new Float32Array(rows.length).fill(1) : t.pick(round.lossMask);
      const stats: GroupStats = {
        clip: clipRatioMetrics(
          ratio!,
          rows.map((row) => round.advantages[row]!),
          mask,
          rows.length,
          ratioWidth,
          epsilonLow,
          epsilonHigh,
        ),
        entropy: entropy![0]!,
        ...(kl ? { kl: kl[0]! } : {}),
      };
      return { loss: result.loss, grads: result.grads, stats } satisfies MicroStep<GroupStats>;
    };

    // 6. TRL's metrics of a round, and samples every `sampleEvery` rounds.
    const roundMetrics = (round: GroupRound, o: StepOutcome<GroupStats>) => {
      const { r } = round;
      const lengths = r.completionIds.map((ids) => ids.length);
      numTokens += r.promptIds.reduce((n, ids) => n + ids.length, 0) + lengths.reduce((a, b) => a + b, 0);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
      const clip = o.stats.map((s) => s.clip);
      const kls = o.stats.flatMap((s) => (s.kl === undefined ? [] : [s.kl]));
      const oracle = round.evaluation ? evaluationScores(config.evaluation, round.evaluation) : undefined;
      const metrics: Record<string, number> = {
        loss: mean(o.losses),
        num_tokens: numTokens,
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
      optimizerState: loaded.optimizerState,
      optimizerSteps: Number(
        resumedState?.data?.optimizerSteps ?? startStep * config.numIterations * config.miniBatches,
      ),
      plan: async (step) => {
        const round = await prepare(step);
        current = round;
        const groupsPerMiniBatch = P / config.miniBatches;
        // dapo's normaliser, as TRL's num_items_in_batch: the loss tokens of the whole generation batch.
        const batchTokens = round.lossMask.reduce((a, b) => a + b, 0);
        return {
          updates: config.numIterations * config.miniBatches,
          tokens: round.r.mask.reduce((a, b) => a + b, 0),
          microStep: (update, micro) => {
            const order = round.orders[Math.floor(update / config.miniBatches)]!;
            const start = (update % config.miniBatches) * groupsPerMiniBatch;
            const rows = order
              .slice(start, start + groupsPerMiniBatch)
              .flatMap((g) => Array.from({ length: G }, (_, j) => g * G + j));
            const split = (k: number) => Math.floor((k * rows.length) / config.gradAccumSteps);
            return microStep(step, round, rows.slice(split(micro), split(micro + 1)), batchTokens);
          },
        };
      },
      metrics: (o) => roundMetrics(current!, o),
      checkpointEvery: config.checkpointEvery,
      checkpointData: () => ({ numTokens }),
    });
    const { last } = result;
    return {
      rounds: result.steps,
      reward: last.reward ?? null,
      "objective/oracle_score": last["objective/oracle_score"] ?? null,
      kl: last.kl ?? null,
      "completions/mean_length": last["completions/mean_length"] ?? null,
      num_tokens: numTokens,
      seconds: result.seconds,
    };
  } finally {
    rewardSet?.dispose();
    evaluationSet?.dispose();
    policy.dispose();
    reference?.dispose();
    if (loaded.optimizerState) for (const t of loaded.optimizerState.values()) t.dispose();
  }
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
