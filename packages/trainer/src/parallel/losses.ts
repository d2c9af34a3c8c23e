/**
 * Loss functions that data-parallel workers can run (they are named by module and export, since a
 * closure cannot cross threads). A loss takes the worker's model and its shard of the batch.
 */
import type * as tf from "@tensorflow/tfjs";
import type { GPT } from "../model/gpt";
import { maskedCrossEntropy } from "../model/ops";

export type ShardLoss = (model: GPT, batch: Record<string, tf.Tensor>) => tf.Scalar;

/**
 * Next-token cross-entropy (pretraining, SFT): batch.inputIds [B, T] int32, batch.targets [B, T] int32,
 * optional batch.lossMask [B, T] (1 = count this position) and batch.attentionMask [B, T].
 */
export const languageModelLoss: ShardLoss = (model, batch) => {
  const { inputIds, targets, lossMask, attentionMask } = batch;
  if (!inputIds || !targets) throw new Error("languageModelLoss: the batch needs inputIds and targets");
  const { logits } = model.forward(inputIds, { attentionMask, returnHidden: false });
  return maskedCrossEntropy(logits as tf.Tensor, targets, lossMask);
};
