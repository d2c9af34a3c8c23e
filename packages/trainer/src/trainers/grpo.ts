/**
 * GRPO (Shao et al. 2024, DeepSeekMath) as TRL's GRPOTrainer computes it, on the group trainer
 * (./group-policy.ts): advantages normalised within each prompt's group (`scaleRewards`), the clipped
 * surrogate with separate low/high ε (DAPO's clip-higher), the token losses aggregated by `lossType`, and,
 * only when β > 0, β times the k3 KL to the SFT model added per token. The formulas: docs/concepts.md.
 */
import type { GrpoConfig } from "@rlhf/core/configs";
import { epsilonHighOf } from "@rlhf/core/configs";
import * as tf from "@tensorflow/tfjs";
import type { JobContext, RunSummary } from "../train/context";
import { aggregateLoss, clippedSurrogate, groupAdvantages, k3Kl } from "../rl/grpo-math";
import { type GroupAlgorithm, trainGroupPolicy } from "./group-policy";

export const grpo: GroupAlgorithm<GrpoConfig> = {
  kind: "grpo",
  advantages: (round, config) => {
    const { advantages, fracZeroStd } = groupAdvantages(round.rewards, round.groupSize, config.scaleRewards);
    return {
      advantages,
      // reward_std is TRL's: the std of the raw weighted sum over the batch (group-policy.ts), not of the groups.
      metrics: { frac_reward_zero_std: fracZeroStd },
    };
  },
  loss: (x, config) => {
    const ratio = tf.exp(tf.sub(x.logprobs, x.oldLogprobs)) as tf.Tensor2D;
    let perToken = clippedSurrogate(
      x.logprobs,
      x.oldLogprobs,
      x.advantages,
      config.epsilon,
      epsilonHighOf(config),
    );
    let kl: tf.Scalar | undefined;
    if (config.beta > 0 && x.refLogprobs) {
      const perTokenKl = k3Kl(x.logprobs, x.refLogprobs);
      perToken = tf.add(perToken, tf.mul(perTokenKl, config.beta));
      kl = tf.div(tf.sum(tf.mul(perTokenKl, x.mask)), tf.maximum(tf.sum(x.mask), 1)) as tf.Scalar;
    }
    const loss = aggregateLoss(perToken, x.mask, config.lossType, {
      maxCompletionLength: config.maxCompletionLength,
      // The loop averages the micro-batches' gradients: TRL's division by the accumulation steps is that mean.
      accumulationSteps: 1,
      tokensInGlobalBatch: x.batchTokens / config.gradAccumSteps,
    });
    return { loss, ratio, kl };
  },
};

export function trainGrpo(config: GrpoConfig, ctx: JobContext): Promise<RunSummary> {
  return trainGroupPolicy(grpo, config, ctx);
}
