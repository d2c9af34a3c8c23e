/**
 * The arithmetic of GRPO and RLOO as TRL computes it (trl/trainer/grpo_trainer.py: advantages in
 * `_generate_and_score_completions`, the loss in `_compute_loss`; trl/trainer/rloo_trainer.py likewise).
 * Plain functions over row-major arrays — a batch of B completions whose rows of one prompt are contiguous
 * (G per group), per-token values as [B, T] with a mask (1 = a completion token in the loss) — each tested
 * against a hand computation; and the differentiable part of the loss as tfjs functions, to call inside
 * tf.tidy. Nothing here knows about models or data.
 */
import * as tf from "@tensorflow/tfjs";
import type { Rows } from "./ppo-math";

/** Added to a standard deviation before dividing by it (TRL: `std_rewards + 1e-4`). */
export const STD_EPSILON = 1e-4;

export type ScaleRewards = "group" | "batch" | "none";
export type LossType = "grpo" | "bnpo" | "dr_grpo" | "dapo";
/** What the clipped ratio is a ratio of (TRL importance_sampling_level; GSPO, Zheng et al. 2025). */
export type ImportanceSamplingLevel = "token" | "sequence" | "sequence_token";

/** Mean and Bessel-corrected std of x[from..to) (TRL's nanstd); the std of fewer than two values is 0. */
export function meanStd(x: Rows, from = 0, to = x.length): { mean: number; std: number } {
  const n = to - from;
  if (n <= 0) return { mean: 0, std: 0 };
  let sum = 0;
  for (let i = from; i < to; i++) sum += x[i]!;
  const mean = sum / n;
  if (n < 2) return { mean, std: 0 };
  let squares = 0;
  for (let i = from; i < to; i++) squares += (x[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(squares / (n - 1)) };
}

function groupsOf(length: number, groupSize: number): number {
  if (!Number.isInteger(groupSize) || groupSize < 1 || length % groupSize !== 0)
    throw new Error(`${length} rewards do not split into groups of ${groupSize}`);
  return length / groupSize;
}

/**
 * GRPO's advantages (Shao et al. 2024; TRL `scale_rewards`): A_i = r_i − mean(group of i), divided by
 * std(group) + 1e-4 (group), by std(batch) + 1e-4 (batch: the group mean is still the baseline, "PPO Lite"),
 * or by nothing (none: Dr. GRPO, Liu et al. 2025). `std` is the one each row was (or would be, for none: the
 * group's) divided by; `fracZeroStd` is TRL's frac_reward_zero_std, the share of rows whose std is 0.
 */
export function groupAdvantages(
  rewards: Rows,
  groupSize: number,
  scale: ScaleRewards,
): { advantages: Float32Array; std: Float32Array; fracZeroStd: number } {
  const groups = groupsOf(rewards.length, groupSize);
  const advantages = new Float32Array(rewards.length);
  const std = new Float32Array(rewards.length);
  const batchStd = scale === "batch" ? meanStd(rewards).std : 0;
  let zero = 0;
  for (let g = 0; g < groups; g++) {
    const from = g * groupSize;
    const group = meanStd(rewards, from, from + groupSize);
    const divisor = scale === "batch" ? batchStd : group.std;
    for (let i = from; i < from + groupSize; i++) {
      const centred = rewards[i]! - group.mean;
      advantages[i] = scale === "none" ? centred : centred / (divisor + STD_EPSILON);
      std[i] = divisor;
      // torch.isclose(std, 0): |std| ≤ 1e-8.
      if (Math.abs(divisor) <= 1e-8) zero++;
    }
  }
  return { advantages, std, fracZeroStd: rewards.length ? zero / rewards.length : 0 };
}

/** (x − mean)/(std + 1e-4) over the batch, with optional weights (e.g. token counts) for mean and std. */
export function whiten(x: Rows, weights?: Rows): Float32Array {
  let total = 0;
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const w = weights ? weights[i]! : 1;
    total += w;
    sum += w * x[i]!;
  }
  const mean = total > 0 ? sum / total : 0;
  let squares = 0;
  for (let i = 0; i < x.length; i++) squares += (weights ? weights[i]! : 1) * (x[i]! - mean) ** 2;
  // Bessel-corrected as torch.std / TRL's nanstd (with weights: as OpenRLHF's masked_normalize over tokens).
  const std = total > 1 ? Math.sqrt(squares / (total - 1)) : 0;
  return Float32Array.from(x, (v) => (v - mean) / (std + STD_EPSILON));
}

/**
 * RLOO's leave-one-out advantages (Ahmadian et al. 2024; Kool et al. 2019): the baseline of completion i is
 * the mean reward of the other G − 1 completions of its prompt, A_i = r_i − (Σ_group r − r_i)/(G − 1).
 * `normalize` whitens them over the batch afterwards (TRL's normalize_advantages).
 */
export function rlooAdvantages(rewards: Rows, groupSize: number, normalize = false): Float32Array {
  const groups = groupsOf(rewards.length, groupSize);
  if (groupSize < 2) throw new Error("a leave-one-out baseline needs at least 2 completions per prompt");
  const advantages = new Float32Array(rewards.length);
  for (let g = 0; g < groups; g++) {
    const from = g * groupSize;
    let sum = 0;
    for (let i = from; i < from + groupSize; i++) sum += rewards[i]!;
    for (let i = from; i < from + groupSize; i++)
      advantages[i] = rewards[i]! - (sum - rewards[i]!) / (groupSize - 1);
  }
  return normalize ? whiten(advantages) : advantages;
}

/**
 * REINFORCE++-baseline (Hu 2025; OpenRLHF `advantage_estimator="reinforce_baseline"`): subtract the group's
 * mean reward, then whiten over the batch. OpenRLHF whitens over tokens; pass each completion's token count
 * as `tokens` to weight the statistics the same way (a sequence-level reward is constant over its tokens).
 */
export function reinforcePlusPlusBaselineAdvantages(
  rewards: Rows,
  groupSize: number,
  tokens?: Rows,
): Float32Array {
  const groups = groupsOf(rewards.length, groupSize);
  const centred = new Float32Array(rewards.length);
  for (let g = 0; g < groups; g++) {
    const from = g * groupSize;
    const { mean } = meanStd(rewards, from, from + groupSize);
    for (let i = from; i < from + groupSize; i++) centred[i] = rewards[i]! - mean;
  }
  return whiten(centred, tokens);
}

/**
 * RLOO's KL penalty per completion (TRL RLOOTrainer, after Ahmadian et al.): the k1 estimate
 * Σ_t (log π_old − log π_ref) over the completion's tokens; the trainer subtracts β times it from the reward.
 * k1, not GRPO's k3: as a reward term it is summed, and its expectation is the KL.
 */
export function sequenceKl(
  logp: Rows,
  refLogp: Rows,
  mask: Rows,
  batch: number,
  length: number,
): Float32Array {
  const kl = new Float32Array(batch);
  for (let b = 0; b < batch; b++) {
    let sum = 0;
    for (let t = 0; t < length; t++) {
      const i = b * length + t;
      sum += (logp[i]! - refLogp[i]!) * mask[i]!;
    }
    kl[b] = sum;
  }
  return kl;
}

/** The loss mask with the rows of truncated completions zeroed (TRL's mask_truncated_completions, DAPO). */
export function maskTruncated(mask: Rows, ended: boolean[], length: number): Float32Array {
  const out = Float32Array.from(mask);
  ended.forEach((done, b) => {
    if (!done) out.fill(0, b * length, (b + 1) * length);
  });
  return out;
}

/**
 * GSPO's sequence log-ratio (Zheng et al. 2025, "Group Sequence Policy Optimization"; TRL 1.10.dev0
 * trl/trainer/grpo_trainer.py `_compute_loss`, importance_sampling_level "sequence"): per completion,
 * log s_i = Σ_t m·(log π − log π_old) / max(Σ_t m, 1) — the log of the geometric mean of its loss tokens'
 * ratios, so s_i = 1 for a completion without loss tokens (truncated and masked, or empty). [B, T] → [B].
 */
export function sequenceLogRatio(
  logp: Rows,
  oldLogp: Rows,
  mask: Rows,
  batch: number,
  length: number,
): Float32Array {
  const out = new Float32Array(batch);
  for (let b = 0; b < batch; b++) {
    let sum = 0;
    let tokens = 0;
    for (let t = 0; t < length; t++) {
      const i = b * length + t;
      sum += mask[i]! * (logp[i]! - oldLogp[i]!);
      tokens += mask[i]!;
    }
    out[b] = sum / Math.max(tokens, 1);
  }
  return out;
}

/**
 * The importance weights the clip acts on (TRL's coef_1), by level: "token", exp(log π − log π_old) per
 * token, [B, T] (width T); "sequence", GSPO's s_i, one per completion, [B, 1] (width 1); "sequence_token",
 * GSPO-token's, whose value is s_i on each of the completion's tokens, [B, T] (its gradient differs: see
 * logImportanceWeights). Plain arrays: the values the clip metrics count, by a plain loop.
 */
export function importanceWeights(
  logp: Rows,
  oldLogp: Rows,
  mask: Rows,
  batch: number,
  length: number,
  level: ImportanceSamplingLevel,
): { weights: Float32Array; width: number } {
  if (level === "token")
    return { weights: Float32Array.from(logp, (x, i) => Math.exp(x - oldLogp[i]!)), width: length };
  const sequence = Float32Array.from(sequenceLogRatio(logp, oldLogp, mask, batch, length), Math.exp);
  if (level === "sequence") return { weights: sequence, width: 1 };
  return {
    weights: Float32Array.from({ length: batch * length }, (_, i) => sequence[Math.floor(i / length)]!),
    width: length,
  };
}

export interface ClipRatioMetrics {
  "clip_ratio/low_mean": number;
  "clip_ratio/low_min": number;
  "clip_ratio/high_mean": number;
  "clip_ratio/high_max": number;
  "clip_ratio/region_mean": number;
}

/**
 * TRL's clip-ratio metrics. A token is low-clipped when r < 1 − ε_low and A < 0, high-clipped when
 * r > 1 + ε_high and A > 0 (the cases where the clip removes the gradient); region = either. The means are over
 * all masked tokens; low_min / high_max are the min / max over completions of each completion's masked mean
 * (completions without tokens skipped, as nanmin/nanmax). For RLOO's sequence-level ratio, pass length 1
 * and a mask of ones. `advantages` has one value per row.
 */
export function clipRatioMetrics(
  ratio: Rows,
  advantages: Rows,
  mask: Rows,
  batch: number,
  length: number,
  epsilonLow: number,
  epsilonHigh: number,
): ClipRatioMetrics {
  let tokens = 0;
  let low = 0;
  let high = 0;
  let lowMin = Number.POSITIVE_INFINITY;
  let highMax = Number.NEGATIVE_INFINITY;
  for (let b = 0; b < batch; b++) {
    let rowTokens = 0;
    let rowLow = 0;
    let rowHigh = 0;
    for (let t = 0; t < length; t++) {
      const i = b * length + t;
      const m = mask[i]!;
      rowTokens += m;
      if (ratio[i]! < 1 - epsilonLow && advantages[b]! < 0) rowLow += m;
      if (ratio[i]! > 1 + epsilonHigh && advantages[b]! > 0) rowHigh += m;
    }
    tokens += rowTokens;
    low += rowLow;
    high += rowHigh;
    if (rowTokens > 0) {
      lowMin = Math.min(lowMin, rowLow / rowTokens);
      highMax = Math.max(highMax, rowHigh / rowTokens);
    }
  }
  const mean = (count: number) => (tokens > 0 ? count / tokens : 0);
  return {
    "clip_ratio/low_mean": mean(low),
    "clip_ratio/low_min": Number.isFinite(lowMin) ? lowMin : 0,
    "clip_ratio/high_mean": mean(high),
    "clip_ratio/high_max": Number.isFinite(highMax) ? highMax : 0,
    // Low and high exclude each other (A < 0 vs A > 0), so the region is their sum.
    "clip_ratio/region_mean": mean(low + high),
  };
}

/**
 * TRL's completion-length metrics: lengths in tokens; `ended` = the completion stopped at end-of-text
 * (the rest were cut at maxCompletionLength). Terminated-length statistics are 0 when none ended, as in TRL.
 */
export function completionMetrics(lengths: number[], ended: boolean[]): Record<string, number> {
  const terminated = lengths.filter((_, i) => ended[i]);
  const stats = (xs: number[]) =>
    xs.length === 0
      ? { mean: 0, min: 0, max: 0 }
      : { mean: xs.reduce((a, b) => a + b, 0) / xs.length, min: Math.min(...xs), max: Math.max(...xs) };
  const all = stats(lengths);
  const done = stats(terminated);
  return {
    "completions/mean_length": all.mean,
    "completions/min_length": all.min,
    "completions/max_length": all.max,
    "completions/mean_terminated_length": done.mean,
    "completions/min_terminated_length": done.min,
    "completions/max_terminated_length": done.max,
    "completions/clipped_ratio": lengths.length ? 1 - terminated.length / lengths.length : 0,
  };
}

// ---- Differentiable parts (tfjs; call inside tf.tidy) ----

/** sg[x]: x's value, no gradient (torch's .detach(); tfjs has no such op). */
export const stopGradient = tf.customGrad((x, _save) => ({
  value: tf.clone(x as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as <T extends tf.Tensor>(x: T) => T;

/**
 * log w, the log importance weight the clipped surrogate uses, as TRL computes it (1.10.dev0
 * trl/trainer/grpo_trainer.py `_compute_loss`: log_ratio → log_importance_weights; "sequence_token" from
 * trl/experimental/gspo_token/grpo_trainer.py `_compute_loss`). logp, oldLogp, mask [B, T]; oldLogp carries no gradient.
 *   token:          log π(y_t) − log π_old(y_t), [B, T]
 *   sequence:       log s_i = Σ_t m·(log π − log π_old) / max(Σ_t m, 1), [B, 1] (GSPO; broadcast over tokens)
 *   sequence_token: log π(y_t) − sg[log π(y_t)] + sg[log s_i], [B, T] (GSPO-token: the value of log s_i, the
 *                   gradient of each token's own log π — with one advantage per completion, as here, the same
 *                   gradient as "sequence", as TRL's GSPO-token page notes)
 */
export function logImportanceWeights(
  logp: tf.Tensor2D,
  oldLogp: tf.Tensor2D,
  mask: tf.Tensor2D,
  level: ImportanceSamplingLevel,
): tf.Tensor2D {
  return tf.tidy(() => {
    const logRatio = tf.sub(logp, oldLogp); // [B, T]
    if (level === "token") return logRatio as tf.Tensor2D;
    const sequence = tf.expandDims(
      tf.div(tf.sum(tf.mul(logRatio, mask), 1), tf.maximum(tf.sum(mask, 1), 1)),
      1,
    ) as tf.Tensor2D; // [B, 1]
    if (level === "sequence") return sequence;
    return tf.add(tf.sub(logp, stopGradient(logp)), stopGradient(sequence)) as tf.Tensor2D;
  });
}

/**
 * The clipped surrogate per token, with DAPO's separate bounds (Yu et al. 2025, clip-higher):
 * −min(r·A, clip(r, 1 − ε_low, 1 + ε_high)·A) with r = exp(log π − log π_old). logp, oldLogp [B, T];
 * advantages [B] (one per completion, broadcast over its tokens). oldLogp carries no gradient.
 */
export function clippedSurrogate(
  logp: tf.Tensor2D,
  oldLogp: tf.Tensor2D,
  advantages: tf.Tensor1D,
  epsilonLow: number,
  epsilonHigh: number,
): tf.Tensor2D {
  return tf.tidy(() =>
    clippedSurrogateOf(tf.sub(logp, oldLogp) as tf.Tensor2D, advantages, epsilonLow, epsilonHigh),
  );
}

/**
 * The same surrogate of given log importance weights (logImportanceWeights; TRL coef_1 = exp(log w),
 * coef_2 = clamp(coef_1, 1 − ε_low, 1 + ε_high), −min(coef_1·A, coef_2·A)): [B, T] → [B, T], or GSPO's
 * [B, 1] → [B, 1], one loss per completion that the aggregation broadcasts over its tokens, as TRL's does.
 */
export function clippedSurrogateOf(
  logWeights: tf.Tensor2D,
  advantages: tf.Tensor1D,
  epsilonLow: number,
  epsilonHigh: number,
): tf.Tensor2D {
  return tf.tidy(() => {
    const ratio = tf.exp(logWeights); // [B, T] or [B, 1]
    const a = tf.expandDims(advantages, 1); // [B, 1]
    const pgLoss1 = tf.mul(ratio, a);
    const pgLoss2 = tf.mul(tf.clipByValue(ratio, 1 - epsilonLow, 1 + epsilonHigh), a);
    return tf.neg(tf.minimum(pgLoss1, pgLoss2)) as tf.Tensor2D;
  });
}

/**
 * k3 estimator of KL(π‖π_ref) per token (Schulman, "Approximating KL divergence"; TRL GRPO):
 * exp(log π_ref − log π) − (log π_ref − log π) − 1, unbiased and never negative.
 */
export function k3Kl(logp: tf.Tensor2D, refLogp: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const logRatio = tf.sub(refLogp, logp);
    return tf.sub(tf.sub(tf.exp(logRatio), logRatio), 1) as tf.Tensor2D;
  });
}

export interface LossNormalizer {
  /** dr_grpo's constant: the longest completion allowed. */
  maxCompletionLength: number;
  /** Micro-batches summed into one optimiser step: grpo, bnpo and dr_grpo divide by it (TRL). */
  accumulationSteps: number;
  /**
   * dapo's normaliser: the loss-masked tokens of the whole generation batch, TRL's num_items_in_batch (one
   * optimiser step's worth when the rollout is one step); dapo does not divide by accumulationSteps.
   */
  tokensInGlobalBatch: number;
}

/**
 * Aggregate a per-token loss [B, T] (or GSPO's per-completion [B, 1], broadcast: each of its loss tokens carries
 * it, so grpo gives it once per completion and the token-summing types weight it by the completion's length,
 * as TRL's) over its mask exactly as TRL's loss types do:
 *   grpo:    mean over completions of (Σ_t loss·mask / Σ_t mask), ÷ accumulation steps (Shao et al.)
 *   bnpo:    Σ loss·mask / Σ mask over this micro-batch, ÷ accumulation steps
 *   dr_grpo: Σ loss·mask / (B · maxCompletionLength), ÷ accumulation steps (Liu et al., Dr. GRPO)
 *   dapo:    Σ loss·mask / tokens in the global batch (Yu et al., DAPO; token-level, no length bias)
 * Token counts are clamped to at least 1, as TRL's `.clamp(min=1.0)`.
 */
export function aggregateLoss(
  perTokenLoss: tf.Tensor2D,
  mask: tf.Tensor2D,
  lossType: LossType,
  n: LossNormalizer,
): tf.Scalar {
  return tf.tidy(() => {
    const masked = tf.mul(perTokenLoss, mask); // [B, T]
    const rows = perTokenLoss.shape[0];
    switch (lossType) {
      case "grpo": {
        const perSequence = tf.div(tf.sum(masked, 1), tf.maximum(tf.sum(mask, 1), 1)); // [B]
        return tf.div(tf.mean(perSequence), n.accumulationSteps) as tf.Scalar;
      }
      case "bnpo":
        return tf.div(tf.div(tf.sum(masked), tf.maximum(tf.sum(mask), 1)), n.accumulationSteps) as tf.Scalar;
      case "dr_grpo":
        return tf.div(tf.sum(masked), rows * n.maxCompletionLength * n.accumulationSteps) as tf.Scalar;
      case "dapo":
        return tf.div(tf.sum(masked), Math.max(n.tokensInGlobalBatch, 1)) as tf.Scalar;
    }
  });
}

/**
 * RLOO's policy loss (TRL RLOOTrainer): a sequence-level ratio r = exp(Σ_t log π − Σ_t log π_old), the clipped
 * surrogate −min(r·A, clip(r, 1 − ε_low, 1 + ε_high)·A), averaged over completions and divided by the
 * accumulation steps (the HF Trainer's scaling of an unscaled loss). seqLogp, oldSeqLogp, advantages: [B].
 */
export function rlooSequenceLoss(
  seqLogp: tf.Tensor1D,
  oldSeqLogp: tf.Tensor1D,
  advantages: tf.Tensor1D,
  epsilonLow: number,
  epsilonHigh: number,
  accumulationSteps = 1,
): tf.Scalar {
  return tf.tidy(() => {
    const ratio = tf.exp(tf.sub(seqLogp, oldSeqLogp)); // [B]
    const pgLoss1 = tf.mul(ratio, advantages);
    const pgLoss2 = tf.mul(tf.clipByValue(ratio, 1 - epsilonLow, 1 + epsilonHigh), advantages);
    return tf.div(tf.mean(tf.neg(tf.minimum(pgLoss1, pgLoss2))), accumulationSteps) as tf.Scalar;
  });
}
