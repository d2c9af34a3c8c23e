/**
 * The reward model's side of RLHF: a GPT with the scalar `score` head, read at the last real token of
 * prompt + response ("N implementation details": reward at the last token; head initialised
 * N(0, 1/√(d+1)); scores normalised to mean 0, std 1 on samples of the starting policy).
 *
 * Sequences are right-padded. Causal attention never lets a real token see the padding after it, and
 * positions count from 0, so a sequence scores the same alone or in a padded batch; no mask is needed.
 */
import * as tf from "@tensorflow/tfjs";
import { type GPT, hashSeed, mulberry32, normalSamples } from "../model";

/** Gain and bias that map raw scores to mean 0, std 1 on `samples` responses of the starting policy. */
export interface RewardNormalization {
  gain: number;
  bias: number;
  /** How many samples the statistics came from. */
  samples: number;
}

/** Right-padded ids [B, T] and each row's last real position. */
export function rightPadded(sequences: number[][], padId: number): { ids: tf.Tensor2D; last: number[] } {
  const length = Math.max(1, ...sequences.map((s) => s.length));
  const flat = new Int32Array(sequences.length * length).fill(padId);
  sequences.forEach((s, b) => {
    if (s.length === 0) throw new Error(`sequence ${b} is empty; a reward needs at least one token`);
    flat.set(s, b * length);
  });
  return {
    ids: tf.tensor2d(flat, [sequences.length, length], "int32"),
    last: sequences.map((s) => s.length - 1),
  };
}

/**
 * The score head at each row's last real token, differentiable: ids [B, T] → [B]. The position is picked
 * with a one-hot mask (the gradient of tf.gather needs a kernel tfjs-wasm lacks).
 */
export function lastTokenScores(model: GPT, ids: tf.Tensor2D, last: number[]): tf.Tensor1D {
  if (!model.hasRewardHead) throw new Error("lastTokenScores: the model has no reward head (score)");
  return tf.tidy(() => {
    const [batch, length] = ids.shape;
    const scores = model.forward(ids, { logits: "none", returnHidden: false }).scores!; // [B, T]
    const pick = new Float32Array(batch * length);
    last.forEach((t, b) => {
      pick[b * length + t] = 1;
    });
    return tf.sum(tf.mul(scores, tf.tensor2d(pick, [batch, length])), 1) as tf.Tensor1D; // [B]
  });
}

/**
 * Raw rewards of token sequences (prompt + response, unpadded), read at each one's last token; no
 * gradients. Batched to bound memory. Apply the checkpoint's normalisation with applyNormalization.
 */
export function rewardScores(model: GPT, sequences: number[][], padId: number, batchSize = 16): number[] {
  const out: number[] = [];
  for (let start = 0; start < sequences.length; start += batchSize) {
    const chunk = sequences.slice(start, start + batchSize);
    const values = tf.tidy(() => {
      const { ids, last } = rightPadded(chunk, padId);
      return lastTokenScores(model, ids, last).dataSync();
    });
    out.push(...values);
  }
  return out;
}

/**
 * Initialise `score.weight` to N(0, 1/√(d+1)) (the "N details"; GPT2ForSequenceClassification leaves its
 * bias out). Needed when the backbone comes from an SFT checkpoint: loadCheckpoint builds the model with
 * zeros, so a head absent from the checkpoint is zero, and a zero head passes no gradient to the body.
 */
export function initRewardHead(model: GPT, seed: number): void {
  const head = model.param("score.weight");
  const d = model.config.nEmbd;
  const values = normalSamples(head.size, 1 / Math.sqrt(d + 1), mulberry32(hashSeed(seed, "score.weight")));
  tf.tidy(() => head.assign(tf.tensor(values, head.shape)));
}

/** Whether the reward head is all zeros (i.e. it was not in the checkpoint the model came from). */
export function rewardHeadIsZero(model: GPT): boolean {
  return tf.tidy(() => tf.max(tf.abs(model.param("score.weight"))).dataSync()[0] === 0);
}

/**
 * Gain and bias such that gain·s + bias has mean 0 and (population) std 1 over `scores`. With fewer than
 * two distinct scores only the mean is removed.
 */
export function normalizeRewards(scores: number[]): RewardNormalization {
  const n = scores.length;
  if (n === 0) return { gain: 1, bias: 0, samples: 0 };
  const mean = scores.reduce((a, b) => a + b, 0) / n;
  const variance = scores.reduce((a, s) => a + (s - mean) ** 2, 0) / n;
  const std = Math.sqrt(variance);
  if (!(std > 1e-8)) return { gain: 1, bias: -mean, samples: n };
  return { gain: 1 / std, bias: -mean / std, samples: n };
}

/** A raw reward under a checkpoint's normalisation (unchanged when the checkpoint has none). */
export function applyNormalization(score: number, norm?: { gain: number; bias: number }): number {
  return norm ? norm.gain * score + norm.bias : score;
}
