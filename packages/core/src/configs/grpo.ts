import { z } from "zod";
import { commonSchema, optimSchema, withDefault, workersSchema } from "./common";
import { type LoraConfig, loraField } from "./lora";
import { checkpointFrom, datasetName } from "./refs-meta";
import { type RewardSpec, refineRewardSpec, rewardSpecShape } from "./rewards";

/**
 * The rollout and update settings GRPO and RLOO share: G completions per prompt scored by reward functions,
 * then μ clipped-ratio passes over the batch. Names follow TRL's GRPOConfig / RLOOConfig (camelCase).
 */
export const groupRolloutShape = {
  ...commonSchema.shape,
  ...optimSchema.shape,
  // A tiny model from scratch moves at 3e-5 (as our PPO); TRL's 1e-6 is for billion-parameter models.
  learningRate: withDefault(optimSchema.shape.learningRate, 3e-5),
  // Annealed linearly, as TRL's default lr_scheduler_type and our PPO (train/loop.ts, schedule "linear").
  minLearningRate: withDefault(
    optimSchema.shape.minLearningRate,
    0,
    "learning rate annealed linearly to this by the last update",
  ),
  warmupSteps: withDefault(
    optimSchema.shape.warmupSteps,
    0,
    "rounds of linear warm-up from 0 to the peak learning rate, before the linear annealing",
  ),
  gradAccumSteps: withDefault(
    optimSchema.shape.gradAccumSteps,
    1,
    "micro-batches each minibatch is split into; their gradients are averaged into one update (less memory, same update)",
  ),
  weightDecay: withDefault(optimSchema.shape.weightDecay, 0),
  // optimSchema's `epsilon` is Adam's; here `epsilon` is the clip range, as in TRL (adam_epsilon beside it).
  adamEpsilon: optimSchema.shape.epsilon.describe("Adam ε (TRL: adam_epsilon)"),
  workers: workersSchema,
  lora: loraField,
  policy: checkpointFrom(["sft", "grpo", "rloo", "ppo", "dpo"]).describe(
    "the SFT checkpoint: starting policy (and frozen reference when beta > 0); an SFT LoRA adapter is merged into its base at load",
  ),
  prompts: datasetName("prompts").default("demo-prompts").describe("prompts dataset to roll out on"),
  iterations: z
    .number()
    .int()
    .min(1)
    .default(100)
    .describe("generation rounds: sample, score, then numIterations passes of updates"),
  promptsPerIteration: z
    .number()
    .int()
    .min(1)
    .default(8)
    .describe("prompts sampled per round; the batch holds promptsPerIteration × numGenerations completions"),
  miniBatches: z
    .number()
    .int()
    .min(1)
    .default(1)
    .describe("optimiser steps per pass: the batch is split into this many (whole groups each)"),
  numGenerations: z
    .number()
    .int()
    .min(2)
    .default(8)
    .describe("G: completions sampled per prompt; the group's rewards are the baseline"),
  maxCompletionLength: z
    .number()
    .int()
    .min(1)
    .default(24)
    .describe("new tokens per completion; a completion without end-of-text by then is truncated (TRL: 512)"),
  temperature: z
    .number()
    .positive()
    .default(1)
    .describe("sampling temperature of the rollouts; logits are divided by it in the update too"),
  topP: z
    .number()
    .gt(0)
    .max(1)
    .default(1)
    .describe("nucleus sampling: keep the smallest set of tokens whose probability reaches topP (1 = all)"),
  numIterations: z
    .number()
    .int()
    .min(1)
    .default(1)
    .describe("μ: passes over each batch; after the first, the importance ratio π/π_old departs from 1"),
  epsilon: z.number().positive().lt(1).default(0.2).describe("ε (low): the ratio is clipped below at 1 − ε"),
  epsilonHigh: z
    .number()
    .positive()
    .optional()
    .describe(
      "ε (high): clipped above at 1 + εhigh; defaults to epsilon (DAPO's clip-higher recommends 0.28)",
    ),
  maskTruncatedCompletions: z
    .boolean()
    .default(false)
    .describe(
      "leave completions without end-of-text out of the loss (DAPO); they still count in the rewards",
    ),
  ...rewardSpecShape,
  sampleEvery: z.number().int().min(1).default(5).describe("store rollout samples every N rounds"),
  checkpointEvery: z
    .number()
    .int()
    .min(1)
    .default(25)
    .describe("save a checkpoint every N rounds (and at the end)"),
};

/**
 * LoRA in PPO/GRPO/RLOO: no adapter dropout. Their importance ratios compare the policy's log-probs of one
 * pass with another's, and the reference is the same weights with the adapters off.
 */
export function refineRlLora(config: { lora?: LoraConfig }, ctx: z.RefinementCtx): void {
  if (config.lora && config.lora.dropout > 0)
    ctx.addIssue({
      code: "custom",
      path: ["lora", "dropout"],
      message:
        "must be 0 for PPO/GRPO/RLOO: the importance ratio compares two passes of the policy, which dropout would make differ",
    });
}

/** Checks across fields of a GRPO/RLOO config: the reward spec's names, minibatches of whole groups. */
export function refineGroupRollout(
  config: { promptsPerIteration: number; miniBatches: number; lora?: LoraConfig } & Partial<RewardSpec>,
  ctx: z.RefinementCtx,
): void {
  refineRewardSpec(config, ctx);
  refineRlLora(config, ctx);
  if (config.promptsPerIteration % config.miniBatches !== 0)
    ctx.addIssue({
      code: "custom",
      path: ["miniBatches"],
      message: `must divide promptsPerIteration (${config.promptsPerIteration}): a minibatch holds whole groups`,
    });
}

/** The upper clip range: εhigh when given, else ε (TRL: epsilon_high = epsilon when None). */
export function epsilonHighOf(config: { epsilon: number; epsilonHigh?: number }): number {
  return config.epsilonHigh ?? config.epsilon;
}

/**
 * GRPO (Shao et al. 2024, DeepSeekMath) as TRL's GRPOTrainer defines it: G completions per prompt, advantages
 * normalised within the group, a clipped surrogate with separate low/high ε, loss aggregation grpo | bnpo |
 * dr_grpo | dapo, and the k3 KL to the SFT model only when β > 0.
 */
export const grpoConfigSchema = z
  .object({
    ...groupRolloutShape,
    scaleRewards: z
      .enum(["group", "batch", "none"])
      .default("group")
      .describe(
        "advantage = reward − group mean, divided by the group's std (group), the batch's std (batch) or nothing (none, Dr. GRPO)",
      ),
    lossType: z
      .enum(["grpo", "bnpo", "dr_grpo", "dapo"])
      .default("dapo")
      .describe(
        "token losses summed then divided by: each sequence's length, then mean (grpo); the minibatch's tokens (bnpo); rows × maxCompletionLength (dr_grpo); the loss tokens of the whole round (dapo, TRL's num_items_in_batch)",
      ),
    beta: z
      .number()
      .min(0)
      .default(0)
      .describe("β: weight of the k3 KL to the SFT model in the loss; 0 = no reference model is loaded"),
    // TRL GRPOConfig.importance_sampling_level ("token" | "sequence"); "sequence_token" is GSPO-token, TRL's
    // trl/experimental/gspo_token GRPOTrainer. GSPO: Zheng et al. 2025, "Group Sequence Policy Optimization".
    importanceSamplingLevel: z
      .enum(["token", "sequence", "sequence_token"])
      .default("token")
      .describe(
        "the importance ratio that is clipped: each token's π/π_old (token); one per completion, exp of the mean log-ratio over its loss tokens, for all its tokens (sequence: GSPO — TRL suggests lossType grpo, epsilon 3e-4, epsilonHigh 4e-4, beta 0); that value with per-token gradients (sequence_token: GSPO-token)",
      ),
  })
  .superRefine(refineGroupRollout)
  .describe("GRPO: G completions per prompt, scored by reward functions, with group-normalised advantages");

export type GrpoConfig = z.infer<typeof grpoConfigSchema>;
