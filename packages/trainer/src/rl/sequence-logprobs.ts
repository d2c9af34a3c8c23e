/**
 * log π(response | prompt) for a batch of chat-formatted conversations: the sum over the response's
 * tokens (its end-of-text included) of log p(token | everything before it). Prompt and padding are
 * masked out. What DPO compares between the policy and the frozen reference.
 */
import * as tf from "@tensorflow/tfjs";
import { type Conversation, conversationBatch, type LmBatch } from "../data";
import { type GPT, logProbsOf } from "../model";

export interface SequenceLogProbs {
  /** [B]: Σ over response tokens of log p. */
  sum: tf.Tensor1D;
  /** [B, T]: log p of each target, 0 at the prompt and the padding. */
  perToken: tf.Tensor2D;
}

/** Response log-probabilities of a right-padded batch (see conversationBatch); differentiable. */
export function sequenceLogProbs(model: GPT, batch: LmBatch): SequenceLogProbs {
  return tf.tidy(() => {
    const shape: [number, number] = [batch.batchSize, batch.length];
    const x = tf.tensor2d(batch.x, shape, "int32");
    const y = tf.tensor2d(batch.y, shape, "int32");
    const mask = tf.tensor2d(batch.mask!, shape, "float32");
    const logits = model.forward(x, { logits: "all", returnHidden: false }).logits!; // [B, T, V]
    const perToken = tf.mul(logProbsOf(logits, y), mask) as tf.Tensor2D; // [B, T]
    return { sum: tf.sum(perToken, 1) as tf.Tensor1D, perToken };
  });
}

/** Tokens each conversation's response contributes (what the mask counts), for length-normalised scores. */
export function responseTokenCount(conversation: Conversation): number {
  return conversation.ids.length - conversation.responseStart;
}

/**
 * Summed response log-probabilities as plain numbers, without gradients and in batches — for the frozen
 * reference, computed once before training.
 */
export function sequenceLogProbValues(
  model: GPT,
  conversations: Conversation[],
  padId: number,
  batchSize = 16,
): number[] {
  const out: number[] = [];
  for (let start = 0; start < conversations.length; start += batchSize) {
    const batch = conversationBatch(conversations.slice(start, start + batchSize), padId, true);
    const values = tf.tidy(() => sequenceLogProbs(model, batch).sum.dataSync());
    out.push(...values);
  }
  return out;
}
