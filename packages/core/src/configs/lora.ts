import { z } from "zod";

/** GPT-2's Conv1D modules, as PEFT names them (`c_proj` alone matches both projections). */
export const loraTargets = ["c_attn", "c_proj", "c_fc", "attn.c_proj", "mlp.c_proj"] as const;

/**
 * LoRA (Hu et al. 2021) instead of full fine-tuning: the base weights stay frozen and low-rank adapters are
 * trained, saved in Hugging Face PEFT's format (adapter_config.json + adapter_model.safetensors). Field names
 * follow the trainer; PEFT's are r, lora_alpha, lora_dropout, target_modules.
 */
export const loraSchema = z
  .object({
    r: z.number().int().min(1).max(256).default(8).describe("rank of each adapter's update (PEFT's r)"),
    alpha: z
      .number()
      .positive()
      .default(16)
      .describe("the update is scaled by alpha / r (PEFT's lora_alpha)"),
    dropout: z
      .number()
      .min(0)
      .max(0.9)
      .default(0)
      .describe(
        "dropout on the adapters' input in training passes (PEFT's lora_dropout); keep 0 for PPO/GRPO/RLOO, whose ratios compare two passes",
      ),
    targets: z
      .array(z.enum(loraTargets))
      .min(1)
      .default(["c_attn", "c_proj", "c_fc"])
      .describe(
        "modules that get adapters (PEFT's target_modules): c_proj adapts the attention's and the MLP's",
      ),
  })
  .strict();

/** The optional `lora` field of a trainer's config: absent means full fine-tuning. */
export const loraField = loraSchema
  .optional()
  .describe(
    "train LoRA adapters on the frozen base instead of every weight, saved as a PEFT adapter (omit for full fine-tuning)",
  );

export type LoraConfig = z.infer<typeof loraSchema>;
