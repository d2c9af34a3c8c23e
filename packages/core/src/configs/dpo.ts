import { z } from "zod";
import { cadenceSchema, commonSchema, optimSchema, withDefault, workersSchema } from "./common";
import { loraField } from "./lora";
import { checkpointFrom, datasetName } from "./refs-meta";

/** The offline alternative to PPO: Direct Preference Optimisation on the same preference pairs. */
export const dpoConfigSchema = z
  .object({
    ...commonSchema.shape,
    ...optimSchema.shape,
    ...cadenceSchema.shape,
    learningRate: withDefault(optimSchema.shape.learningRate, 5e-5),
    minLearningRate: withDefault(optimSchema.shape.minLearningRate, 0),
    policy: checkpointFrom(["sft", "dpo", "ppo", "grpo", "rloo"]).describe(
      "the SFT checkpoint: starting policy and frozen reference",
    ),
    datasets: z
      .array(datasetName("preferences"))
      .min(1)
      .default(["demo-preferences"])
      .describe("preference datasets whose rankings to train on"),
    loss: z
      .enum(["sigmoid", "ipo"])
      .default("sigmoid")
      .describe("sigmoid: −log σ(β·Δ) (DPO); ipo: (Δ − 1/(2β))² (IPO)"),
    beta: z
      .number()
      .positive()
      .default(0.1)
      .describe("β: strength of the implicit KL constraint to the reference"),
    labelSmoothing: z
      .number()
      .min(0)
      .lt(0.5)
      .default(0)
      .describe("conservative DPO: assumed probability that a preference label is flipped"),
    epochs: z.number().int().min(1).default(1).describe("passes over the pairs"),
    workers: workersSchema,
    batchSize: z.number().int().min(1).default(8).describe("pairs per batch"),
    maxLength: z
      .number()
      .int()
      .min(8)
      .max(8192)
      .default(128)
      .describe("longest prompt+response in tokens; longer pairs are filtered out"),
    evalFraction: z.number().gt(0).lt(1).default(0.1).describe("share of pairs held out for evaluation"),
    lora: loraField,
  })
  .describe("DPO: learn the preferences directly, with the SFT model as the frozen reference");

export type DpoConfig = z.infer<typeof dpoConfigSchema>;
