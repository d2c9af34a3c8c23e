import { z } from "zod";
import { withDefault } from "./common";
import { groupRolloutShape, refineGroupRollout } from "./grpo";
import { checkpointFrom } from "./refs-meta";

/**
 * RLOO (Ahmadian et al. 2024, "Back to Basics") as TRL's RLOOTrainer computes it: k completions per prompt,
 * each one's baseline the mean reward of the other k − 1; the KL to the SFT model (k1, summed over the
 * completion) subtracted from the sequence reward; a clipped sequence-level ratio. The REINFORCE++-baseline
 * of OpenRLHF (Hu 2025) is the same trainer with the group mean as baseline and batch normalisation.
 */
export const rlooConfigSchema = z
  .object({
    ...groupRolloutShape,
    policy: checkpointFrom(["sft", "rloo", "grpo", "ppo", "dpo"], groupRolloutShape.policy),
    numGenerations: withDefault(
      groupRolloutShape.numGenerations,
      2,
      "k: completions sampled per prompt (TRL's default 2); each is compared with the other k − 1",
    ),
    baseline: z
      .enum(["rloo", "reinforce++"])
      .default("rloo")
      .describe(
        "rloo: the mean reward of the other k − 1 completions; reinforce++: the group mean, then advantages whitened over the batch (REINFORCE++-baseline)",
      ),
    beta: z
      .number()
      .min(0)
      .default(0.05)
      .describe(
        "β: the sequence's KL to the SFT model (Σ log π − log π_ref) times β is subtracted from its reward",
      ),
    normalizeAdvantages: z
      .boolean()
      .default(false)
      .describe("whiten the advantages over the batch (mean 0, std 1), as TRL's normalize_advantages"),
  })
  .superRefine(refineGroupRollout)
  .describe(
    "RLOO: k completions per prompt, each baselined by the others' mean reward, KL folded into the reward",
  );

export type RlooConfig = z.infer<typeof rlooConfigSchema>;
