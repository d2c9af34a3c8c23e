import type { DatasetKind, RunKind } from "@rlhf/core/schema";

/** Runs that fit a checkpoint field, best first: what the picker lists on top. */
export const PREFERRED_INPUTS: Record<string, RunKind[]> = {
  "pretrain.init": ["pretrain"],
  "sft.init": ["pretrain", "sft"],
  "reward.init": ["sft"],
  "ppo.policy": ["sft", "ppo", "dpo", "grpo", "rloo"],
  "ppo.rewardModel": ["reward"],
  "grpo.policy": ["sft", "grpo", "rloo", "ppo", "dpo"],
  "rloo.policy": ["sft", "rloo", "grpo", "ppo", "dpo"],
  "reward_model.params.checkpoint": ["reward"],
  "dpo.policy": ["sft", "dpo", "ppo", "grpo", "rloo"],
  "generate.checkpoint": ["sft", "ppo", "dpo", "grpo", "rloo", "pretrain"],
};

/** Dataset fields and the kind of dataset each takes (`generate.dataset` may name a new one). */
export const DATASET_FIELDS: Record<string, DatasetKind> = {
  "pretrain.dataset": "text",
  "sft.dataset": "sft",
  "ppo.prompts": "prompts",
  "grpo.prompts": "prompts",
  "rloo.prompts": "prompts",
  "generate.prompts": "prompts",
  "generate.dataset": "preferences",
  "reward.datasets": "preferences",
  "dpo.datasets": "preferences",
};
