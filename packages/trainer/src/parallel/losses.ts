/**
 * Loss functions that data-parallel workers can run (they are named by module and export, since a
 * closure cannot cross threads). A loss takes the worker's model, its shard of the batch and the
 * trainer's settings; it returns the shard's loss, optionally with per-row outputs (axis 0 = the shard's
 * rows) that the main thread concatenates across shards for the trainer's metrics.
 *
 * The main thread averages the shards' losses and gradients weighted by their rows: a loss that is a
 * mean over rows is exact as it is; one normalised by something else (SFT's counted tokens) divides by
 * the whole batch's normaliser and scales by rows / shard rows, given in the settings.
 */
import * as tf from "@tensorflow/tfjs";
import type { GPT } from "../model/gpt";
import { logProbsOf, maskedCrossEntropy } from "../model/ops";

export type ShardLossResult = tf.Scalar | { loss: tf.Scalar; rows?: Record<string, tf.Tensor> };

export type ShardLoss = (
  model: GPT,
  batch: Record<string, tf.Tensor>,
  options: Record<string, unknown>,
) => ShardLossResult;

/**
 * Vocabularies from this size go through the fused LM head (ops.lmHeadLogProbs: one [N, V] tensor kept for
 * the backward pass instead of three; 0.4 GB at GPT-2 small's 8 x 128 tokens). Smaller ones keep the plain
 * path, with which the demo's figures were measured (the fused head sums the embedding's gradient by row
 * chunks: the same value up to float rounding).
 */
export const FUSED_LM_HEAD_VOCAB = 8192;

/**
 * Mean next-token cross-entropy of a training forward pass over the positions of `mask` (all when none),
 * or — given `normaliser` — their sum divided by it.
 */
export function nextTokenLoss(
  model: GPT,
  x: tf.Tensor,
  y: tf.Tensor,
  mask?: tf.Tensor,
  normaliser?: number,
): tf.Scalar {
  return tf.tidy(() => {
    let logp: tf.Tensor; // [B, T]
    if (model.config.vocabSize < FUSED_LM_HEAD_VOCAB) {
      const { logits } = model.forward(x, { logits: "all", returnHidden: false, training: true });
      if (normaliser === undefined) return maskedCrossEntropy(logits!, y, mask);
      logp = logProbsOf(logits!, y);
    } else {
      logp = model.forward(x, { targets: y, returnHidden: false, training: true }).logProbs!;
    }
    if (!mask && normaliser === undefined) return tf.neg(tf.mean(logp)) as tf.Scalar;
    const counted = mask ? tf.mul(logp, mask) : logp;
    const denominator = normaliser ?? (mask ? tf.maximum(tf.sum(mask), 1) : logp.size);
    return tf.div(tf.neg(tf.sum(counted)), denominator) as tf.Scalar;
  });
}

/**
 * Next-token cross-entropy (pretraining, SFT): batch.inputIds [B, T] int32, batch.targets [B, T] int32,
 * optional batch.lossMask [B, T] (1 = count this position). With options `{ tokens, rows }` (the whole
 * batch's counted positions and rows) the shard's share of the batch's token mean, scaled by rows / shard
 * rows — so the row-weighted average over shards is the whole batch's mean over its tokens.
 */
export const languageModelLoss: ShardLoss = (model, batch, options) => {
  const { inputIds, targets, lossMask } = batch;
  if (!inputIds || !targets) throw new Error("languageModelLoss: the batch needs inputIds and targets");
  const tokens = options.tokens as number | undefined;
  if (tokens === undefined) return nextTokenLoss(model, inputIds, targets, lossMask);
  const scale = (options.rows as number) / inputIds.shape[0]!;
  return tf.tidy(() => tf.mul(nextTokenLoss(model, inputIds, targets, lossMask, tokens), scale) as tf.Scalar);
};
