import { z } from "zod";
import { commonSchema } from "./common";
import { checkpointFrom, datasetName } from "./refs-meta";

/**
 * Generate K completions per prompt from a checkpoint and put them up for ranking as comparison tasks —
 * the step that closes the loop of iterated RLHF (new policy → new comparisons → new reward model).
 */
export const generateConfigSchema = z
  .object({
    ...commonSchema.shape,
    checkpoint: checkpointFrom(["sft", "ppo", "dpo", "grpo", "rloo", "pretrain"]).describe(
      "the policy to sample from (usually an SFT or PPO checkpoint)",
    ),
    prompts: datasetName("prompts").default("demo-prompts").describe("prompts dataset to answer"),
    split: z.enum(["train", "eval", "all"]).default("train").describe("which of its prompts"),
    maxPrompts: z
      .number()
      .int()
      .min(1)
      .default(1000)
      .describe("at most this many prompts (in dataset order)"),
    rounds: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(1)
      .describe("tasks per prompt: each round samples new completions"),
    completionsPerPrompt: z
      .number()
      .int()
      .min(2)
      .max(9)
      .default(4)
      .describe("K completions per task (2 = pairwise, up to 9)"),
    temperature: z
      .number()
      .positive()
      .default(1)
      .describe("sampling temperature (diverse completions make informative comparisons)"),
    topK: z.number().int().min(0).default(0).describe("sample among the k most likely tokens (0 = all)"),
    maxNewTokens: z.number().int().min(1).default(32).describe("longest completion in tokens"),
    dataset: datasetName("preferences", { creates: true })
      .default("demo-preferences")
      .describe("preferences dataset to add the tasks to (created when missing)"),
    requiredRankings: z
      .number()
      .int()
      .min(1)
      .max(100)
      .optional()
      .describe("rankings each task needs (default: the dataset's)"),
    oracle: z
      .boolean()
      .default(false)
      .describe("rank the new tasks at once with the sentiment oracle (the demo's stand-in for people)"),
  })
  .describe("Generate completions for ranking: K samples per prompt become comparison tasks in the labeler");

export type GenerateConfig = z.infer<typeof generateConfigSchema>;
