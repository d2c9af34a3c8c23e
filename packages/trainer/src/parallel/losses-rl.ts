/**
 * The losses of the online trainers (PPO, GRPO, RLOO) on a batch of rollout rows, written once for this
 * thread and for the data-parallel workers (which import them by name, see ./index.ts).
 *
 * A batch is some rows of a rollout as tensors: `inputIds` [b, P + R] int32, `attention` [b, P + R], `responses`
 * [b, R] int32, the rollout's old log-probs, advantages and masks, and two columns repeating the statistics
 * of the whole micro-batch the rows belong to: `microRows` (its rows, R_m) and `microTokens` (its loss tokens,
 * N). The data-parallel workers each take a shard of c rows, and the main thread averages the shards'
 * losses and gradients weighted by c / R_m. Every loss here is Σ over rows of a row's term, divided by a
 * normaliser of the whole micro-batch (its tokens, its rows, a constant); a shard therefore divides by that
 * normaliser, not its own, and scales by R_m / c — so the weighted average is the micro-batch's loss up to
 * float reassociation, and on the whole micro-batch (c = R_m) every factor is exactly 1: the same operations
 * as one thread computing it.
 *
 * Each loss also returns per-row statistics (`rows`, axis 0 = rows), which the main thread concatenates
 * across shards and turns into the trainer's metrics.
 */
import * as tf from "@tensorflow/tfjs";
import type { GPT } from "../model/gpt";
import { withoutAdapters } from "../model/lora";
import { entropyFromLogits, logProbsOf } from "../model/ops";
import {
  aggregateLoss,
  clippedSurrogateOf,
  type ImportanceSamplingLevel,
  k3Kl,
  type LossType,
  logImportanceWeights,
  rlooSequenceLoss,
} from "../rl/grpo-math";
import { type Completions, completionLogits, pickRows, rolloutHostRows } from "../rl/rollout";
import type { HostTensor } from "./protocol";

/** A loss with per-row statistics, given settings (numbers and strings) by the trainer (a ./losses.ts ShardLoss). */
export type RlShardLoss = (
  model: GPT,
  batch: Record<string, tf.Tensor>,
  options: Record<string, unknown>,
) => { loss: tf.Scalar; rows: Record<string, tf.Tensor> };

/** R_m and N of the micro-batch these rows belong to, and c, the rows here (see the header). */
function shardOf(batch: Record<string, tf.Tensor>): { rows: number; microRows: number; microTokens: number } {
  const { microRows, microTokens, responses } = batch;
  if (!microRows || !microTokens || !responses)
    throw new Error("an RL loss batch needs responses, microRows and microTokens");
  return {
    rows: responses.shape[0]!,
    microRows: microRows.dataSync()[0]!,
    microTokens: microTokens.dataSync()[0]!,
  };
}

/** Per-row micro-batch statistics as batch columns. */
export function microBatchColumns(
  rows: number,
  tokens: number,
): { microRows: Float32Array; microTokens: Float32Array } {
  return {
    microRows: new Float32Array(rows).fill(rows),
    microTokens: new Float32Array(rows).fill(tokens),
  };
}

/**
 * What every loss batch holds for some rows of a rollout: their ids, attention and completions, the loss
 * `mask` ([B, R], picked), the micro-batch columns; and `pick` / `column` to add the loss's own arrays.
 */
export function rolloutLossBatch(
  r: Pick<Completions, "batch" | "promptLength" | "responseLength" | "inputIds" | "attention" | "responses">,
  rows: number[],
  mask: Float32Array,
) {
  const R = r.responseLength;
  const { b, ...host } = rolloutHostRows(r, rows);
  const pick = (data: Float32Array): HostTensor => ({
    values: pickRows(data, R, rows),
    shape: [b, R],
    dtype: "float32",
  });
  const column = (values: Float32Array): HostTensor => ({ values, shape: [b], dtype: "float32" });
  const picked = pick(mask);
  const micro = microBatchColumns(
    b,
    (picked.values as Float32Array).reduce((a, m) => a + m, 0),
  );
  const batch: Record<string, HostTensor> = {
    ...host,
    mask: picked,
    microRows: column(micro.microRows),
    microTokens: column(micro.microTokens),
  };
  return { batch, pick, column, tokens: micro.microTokens[0] ?? 0 };
}

/** The completion logits of a loss batch (its prompt length is inputIds' width minus responses'). */
function batchLogits(model: GPT, batch: Record<string, tf.Tensor>, temperature: number) {
  const inputIds = batch.inputIds as tf.Tensor2D;
  const responses = batch.responses as tf.Tensor2D;
  const R = responses.shape[1];
  return completionLogits(
    model,
    inputIds,
    batch.attention as tf.Tensor2D,
    inputIds.shape[1] - R,
    R,
    temperature,
  );
}

/**
 * The rollout's statistics without gradients, as the workers compute them (DataParallel.rows): log-probs of
 * the completion tokens at `options.temperature`, under the policy or — `adapters: false` — the reference
 * that is the same weights with the LoRA adapters off; with `values: true` also the value head's values and
 * the entropy (PPO). Rows of [b, R].
 */
export function rolloutStats(
  model: GPT,
  batch: Record<string, tf.Tensor>,
  options: Record<string, unknown>,
): Record<string, tf.Tensor> {
  const { logits, values } = batchLogits(
    options.adapters === false ? withoutAdapters(model) : model,
    batch,
    options.temperature as number,
  );
  const logprobs = logProbsOf(logits, batch.responses!);
  if (options.values !== true) return { logprobs };
  const [b, R] = logits.shape;
  const P = batch.inputIds!.shape[1]! - R;
  if (!values) throw new Error("rolloutStats: the model has no value head");
  return {
    logprobs,
    values: tf.slice(values, [0, P - 1], [b, R]),
    entropy: entropyFromLogits(logits),
  };
}

// ---- PPO ----

export interface PpoLossSettings {
  clipRange: number;
  clipRangeValue: number;
  valueLossCoef: number;
  temperature: number;
}

/** Columns of PPO's per-row statistics (`rows.stats`, [b, 7]): sums over the row's masked tokens. */
export const PPO_ROW_STATS = [
  "approxKl",
  "clipFrac",
  "pgLoss",
  "vLoss",
  "vClipFrac",
  "entropy",
  "ratio",
] as const;

/**
 * PPO's clipped policy loss plus `valueLossCoef` × its clipped value loss (CleanRL), each a masked mean over
 * the micro-batch's tokens. `now`: the current policy's log-probs, entropy and values of these rows (with
 * gradients); `old`: the rollout's log-probs, values, advantages, returns and mask.
 */
export function ppoLossTerms(
  now: { logprobs: tf.Tensor2D; entropy: tf.Tensor2D; values: tf.Tensor2D },
  old: Record<"logprobs" | "values" | "advantages" | "returns" | "mask", tf.Tensor2D>,
  s: PpoLossSettings,
  shard: { rows: number; microRows: number; microTokens: number },
): { loss: tf.Scalar; rows: Record<string, tf.Tensor> } {
  // The micro-batch's token count, as this shard's share of it (exactly N on the whole micro-batch).
  const count = (Math.max(shard.microTokens, 1) * shard.rows) / shard.microRows;
  const masked = (x: tf.Tensor) => tf.div(tf.sum(tf.mul(x, old.mask)), count);
  const logRatio = tf.sub(now.logprobs, old.logprobs);
  const ratio = tf.exp(logRatio);
  // Clipped policy loss.
  const pgLoss1 = tf.mul(tf.neg(old.advantages), ratio);
  const pgLoss2 = tf.mul(tf.neg(old.advantages), tf.clipByValue(ratio, 1 - s.clipRange, 1 + s.clipRange));
  const pgTokens = tf.maximum(pgLoss1, pgLoss2);
  // Clipped value loss.
  const vPredClipped = tf.add(
    old.values,
    tf.clipByValue(tf.sub(now.values, old.values), -s.clipRangeValue, s.clipRangeValue),
  );
  const vLoss1 = tf.square(tf.sub(now.values, old.returns));
  const vLoss2 = tf.square(tf.sub(vPredClipped, old.returns));
  const vTokens = tf.maximum(vLoss1, vLoss2);
  const loss = tf.add(masked(pgTokens), tf.mul(s.valueLossCoef, tf.mul(0.5, masked(vTokens)))) as tf.Scalar;
  const rowSum = (x: tf.Tensor) => tf.sum(tf.mul(x, old.mask), 1);
  const stats = tf.stack(
    [
      tf.mul(0.5, tf.square(logRatio)),
      // TRL's clipfrac: tokens where the clipped surrogate is the one that binds.
      tf.cast(tf.greater(pgLoss2, pgLoss1), "float32"),
      pgTokens,
      tf.mul(0.5, vTokens),
      tf.cast(tf.greater(vLoss2, vLoss1), "float32"),
      now.entropy,
      ratio,
    ].map(rowSum),
    1,
  );
  return { loss, rows: { stats } };
}

/**
 * PPO on a loss batch with the value head of `model`: batch.oldLogprobs, oldValues, advantages, returns and
 * mask are [b, R].
 */
export const ppoLoss: RlShardLoss = (model, batch, options) => {
  const s = options as unknown as PpoLossSettings;
  const { logits, values } = batchLogits(model, batch, s.temperature);
  const R = logits.shape[1];
  const [b] = logits.shape;
  const P = (batch.inputIds as tf.Tensor).shape[1]! - R;
  if (!values) throw new Error("ppoLoss: the model has no value head");
  const now = {
    logprobs: logProbsOf(logits, batch.responses!) as tf.Tensor2D,
    entropy: entropyFromLogits(logits) as tf.Tensor2D,
    values: tf.slice(values, [0, P - 1], [b, R]) as tf.Tensor2D,
  };
  return ppoLossTerms(now, ppoRolloutTerms(batch), s, shardOf(batch));
};

/** The rollout's side of PPO's loss in a loss batch: old log-probs and values, advantages, returns, mask. */
export function ppoRolloutTerms(
  batch: Record<string, tf.Tensor>,
): Record<"logprobs" | "values" | "advantages" | "returns" | "mask", tf.Tensor2D> {
  return {
    logprobs: batch.oldLogprobs as tf.Tensor2D,
    values: batch.oldValues as tf.Tensor2D,
    advantages: batch.advantages as tf.Tensor2D,
    returns: batch.returns as tf.Tensor2D,
    mask: batch.mask as tf.Tensor2D,
  };
}

// ---- GRPO and RLOO ----

/** What GRPO's and RLOO's losses read from their configs. */
export interface GroupLossSettings {
  kind: "grpo" | "rloo";
  temperature: number;
  epsilon: number;
  epsilonHigh: number;
  beta: number;
  lossType: LossType;
  maxCompletionLength: number;
  gradAccumSteps: number;
  /** GRPO's importance ratio: per token (absent: "token"), per completion (GSPO) or GSPO-token. */
  importanceSamplingLevel?: ImportanceSamplingLevel;
}

/** The input of a GRPO/RLOO loss on some rows of a round. */
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

/**
 * GRPO's loss as TRL computes it: the clipped surrogate (clip-higher) of the importance weights of
 * `importanceSamplingLevel` (per token, or GSPO's per completion), β × k3 KL per token when β > 0, aggregated
 * by `lossType`. Returns the ratio the clip acted on ([b, R], or [b, 1] at the sequence level, as TRL's
 * coef_1) and the per-token KL for the metrics.
 */
export function grpoLossTerms(
  x: GroupLossInput,
  s: Omit<GroupLossSettings, "kind" | "temperature">,
): { loss: tf.Scalar; ratio: tf.Tensor2D; klTokens?: tf.Tensor2D } {
  const logWeights = logImportanceWeights(
    x.logprobs,
    x.oldLogprobs,
    x.mask,
    s.importanceSamplingLevel ?? "token",
  );
  const ratio = tf.exp(logWeights) as tf.Tensor2D;
  let perToken = clippedSurrogateOf(logWeights, x.advantages, s.epsilon, s.epsilonHigh);
  let klTokens: tf.Tensor2D | undefined;
  if (s.beta > 0 && x.refLogprobs) {
    klTokens = k3Kl(x.logprobs, x.refLogprobs);
    perToken = tf.add(perToken, tf.mul(klTokens, s.beta));
  }
  const loss = aggregateLoss(perToken, x.mask, s.lossType, {
    maxCompletionLength: s.maxCompletionLength,
    // The loop averages the micro-batches' gradients: TRL's division by the accumulation steps is that mean.
    accumulationSteps: 1,
    tokensInGlobalBatch: x.batchTokens / s.gradAccumSteps,
  });
  return { loss, ratio, klTokens };
}

/** RLOO's loss: the clipped ratio of whole-sequence probabilities (Σ_t log π over the completion). */
export function rlooLossTerms(
  x: GroupLossInput,
  s: Pick<GroupLossSettings, "epsilon" | "epsilonHigh">,
): { loss: tf.Scalar; ratio: tf.Tensor2D } {
  const seq = tf.sum(tf.mul(x.logprobs, x.mask), 1) as tf.Tensor1D;
  const oldSeq = tf.sum(tf.mul(x.oldLogprobs, x.mask), 1) as tf.Tensor1D;
  const loss = rlooSequenceLoss(seq, oldSeq, x.advantages, s.epsilon, s.epsilonHigh);
  return { loss, ratio: tf.expandDims(tf.exp(tf.sub(seq, oldSeq)), 1) as tf.Tensor2D };
}

/**
 * How much a shard's loss counts so that the row-weighted average of the shards is the micro-batch's: 1 for
 * a mean over rows (grpo, dr_grpo, RLOO), R_m / c for a sum over a micro-batch constant (dapo), and
 * N_shard · R_m / (N · c) for a mean over the micro-batch's tokens (bnpo). Exactly 1 on the whole micro-batch.
 */
function groupShardFactor(
  s: GroupLossSettings,
  shard: { rows: number; microRows: number; microTokens: number },
  mask: tf.Tensor,
): number {
  if (s.kind === "rloo" || s.lossType === "grpo" || s.lossType === "dr_grpo") return 1;
  const rowsFactor = shard.microRows / shard.rows;
  if (s.lossType === "dapo") return rowsFactor;
  const tokens = Math.max(
    tf.tidy(() => tf.sum(mask).dataSync()[0]!),
    1,
  );
  return (tokens * rowsFactor) / Math.max(shard.microTokens, 1);
}

/**
 * GRPO or RLOO (options.kind) on a loss batch: oldLogprobs, refLogprobs (β > 0), mask [b, R], advantages
 * [b], batchTokens [b] (the round's loss tokens, repeated). Rows: the ratio ([b, R], or [b, 1] for RLOO's
 * and GSPO's sequence ratios), and per row the sums of entropy and KL over its masked tokens.
 */
export const groupPolicyLoss: RlShardLoss = (model, batch, options) => {
  const s = options as unknown as GroupLossSettings;
  const { logits } = batchLogits(model, batch, s.temperature);
  const mask = batch.mask as tf.Tensor2D;
  const input: GroupLossInput = {
    logprobs: logProbsOf(logits, batch.responses!) as tf.Tensor2D,
    oldLogprobs: batch.oldLogprobs as tf.Tensor2D,
    refLogprobs: batch.refLogprobs as tf.Tensor2D | undefined,
    advantages: batch.advantages as tf.Tensor1D,
    mask,
    batchTokens: batch.batchTokens!.dataSync()[0]!,
  };
  const out: { loss: tf.Scalar; ratio: tf.Tensor2D; klTokens?: tf.Tensor2D } =
    s.kind === "rloo" ? rlooLossTerms(input, s) : grpoLossTerms(input, s);
  const factor = groupShardFactor(s, shardOf(batch), mask);
  const rowSum = (x: tf.Tensor) => tf.sum(tf.mul(x, mask), 1);
  const { klTokens } = out;
  return {
    loss: factor === 1 ? out.loss : (tf.mul(out.loss, factor) as tf.Scalar),
    rows: {
      ratio: out.ratio,
      entropy: rowSum(entropyFromLogits(logits)),
      ...(klTokens ? { kl: rowSum(klTokens) } : {}),
    },
  };
};
