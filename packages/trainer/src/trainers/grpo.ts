/**
 * GRPO (Shao et al. 2024, DeepSeekMath) as TRL's GRPOTrainer computes it, on the group trainer
 * (./group-policy.ts): advantages normalised within each prompt's group (`scaleRewards`), the clipped
 * surrogate with separate low/high ε (DAPO's clip-higher), the token losses aggregated by `lossType`, and,
 * only when β > 0, β times the k3 KL to the SFT model added per token (the loss: parallel/losses-rl.ts
 * grpoLossTerms). `importanceSamplingLevel: "sequence"` is GSPO (Zheng et al. 2025): one ratio per completion
 * (rl/grpo-math.ts logImportanceWeights). The formulas: docs/concepts.md.
 */
import type { GrpoConfig } from "@rlhf/core/configs";
import { groupAdvantages } from "../rl/grpo-math";
import type { JobContext, RunSummary } from "../train/context";
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
};

export function trainGrpo(config: GrpoConfig, ctx: JobContext): Promise<RunSummary> {
  // TRL 1.10.dev0 GRPOTrainer.__init__ warns the same (grpo_trainer.py, "importance_sampling_level='sequence'").
  if (config.importanceSamplingLevel === "sequence" && config.lossType !== "grpo")
    ctx.log(
      `importanceSamplingLevel "sequence" with lossType "${config.lossType}": the loss sums per-token terms, so each completion's sequence term counts once per token (weighted by its length) instead of once; GSPO's paper uses lossType "grpo"`,
      "warn",
    );
  return trainGroupPolicy(grpo, config, ctx);
}
