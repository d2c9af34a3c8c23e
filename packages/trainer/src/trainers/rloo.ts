/**
 * RLOO (Ahmadian et al. 2024, "Back to Basics") as TRL's RLOOTrainer computes it, on the group trainer
 * (./group-policy.ts): k completions per prompt; β times the sequence's KL to the SFT model (k1, summed over
 * its tokens) subtracted from its reward; each completion's baseline the mean reward of the other k − 1
 * (or, `baseline: "reinforce++"`, OpenRLHF's REINFORCE++-baseline: the group mean, then whitened over the
 * batch); a clipped ratio of whole-sequence probabilities (parallel/losses-rl.ts rlooLossTerms). The
 * formulas: docs/concepts.md.
 */
import type { RlooConfig } from "@rlhf/core/configs";
import {
  groupAdvantages,
  reinforcePlusPlusBaselineAdvantages,
  rlooAdvantages,
  sequenceKl,
} from "../rl/grpo-math";
import type { JobContext, RunSummary } from "../train/context";
import { type GroupAlgorithm, trainGroupPolicy } from "./group-policy";

export const rloo: GroupAlgorithm<RlooConfig> = {
  kind: "rloo",
  advantages: (round, config) => {
    const { r } = round;
    const B = r.batch;
    const R = r.responseLength;
    const kl = round.refLogprobs
      ? sequenceKl(round.oldLogprobs, round.refLogprobs, r.mask, B, R)
      : new Float32Array(B);
    const rewards = round.rewards.map((score, b) => score - config.beta * kl[b]!);
    const tokens = Array.from({ length: B }, (_, b) =>
      r.mask.subarray(b * R, (b + 1) * R).reduce((a, m) => a + m, 0),
    );
    const advantages =
      config.baseline === "reinforce++"
        ? reinforcePlusPlusBaselineAdvantages(rewards, round.groupSize, tokens)
        : rlooAdvantages(rewards, round.groupSize, config.normalizeAdvantages);
    const mean = (xs: ArrayLike<number>) =>
      Array.from(xs).reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    return {
      advantages,
      metrics: {
        // TRL: the share of completions whose group's rewards (before the KL) are all equal.
        frac_reward_zero_std: groupAdvantages(round.rewards, round.groupSize, "group").fracZeroStd,
        ...(round.refLogprobs ? { kl: mean(kl) } : {}),
        "objective/rlhf_reward": mean(rewards),
      },
    };
  },
};

export function trainRloo(config: RlooConfig, ctx: JobContext): Promise<RunSummary> {
  return trainGroupPolicy(rloo, config, ctx);
}
