import { z } from "zod";
import { cadenceSchema, commonSchema, optimSchema, withDefault, workersSchema } from "./common";
import { loraField } from "./lora";
import { checkpointFrom, datasetName } from "./refs-meta";

/** Stage 2: supervised fine-tuning on prompt/response pairs in the chat format, loss on the response only. */
export const sftConfigSchema = z
  .object({
    ...commonSchema.shape,
    ...optimSchema.shape,
    ...cadenceSchema.shape,
    learningRate: withDefault(optimSchema.shape.learningRate, 3e-4),
    minLearningRate: withDefault(optimSchema.shape.minLearningRate, 3e-5),
    dataset: datasetName("sft")
      .default("demo-sft")
      .describe("name of an SFT dataset (prompt + response) in the workbench"),
    init: checkpointFrom(["pretrain", "sft"]).describe("the pretrained checkpoint to fine-tune"),
    maxSteps: z.number().int().min(1).default(200).describe("optimiser steps to train for"),
    workers: workersSchema,
    batchSize: z.number().int().min(1).default(16).describe("conversations per micro-batch"),
    maxLength: z
      .number()
      .int()
      .min(8)
      .max(8192)
      .default(128)
      .describe(
        "longest conversation in tokens; longer ones are dropped, not truncated, and counted in the log",
      ),
    completionOnlyLoss: z
      .boolean()
      .default(true)
      .describe(
        "loss on the response tokens only (prompt and padding masked), as TRL does for prompt/completion data",
      ),
    evalFraction: z.number().gt(0).lt(1).default(0.05).describe("share of pairs held out for evaluation"),
    samplePrompts: z
      .array(z.string())
      .default(["Tell me about the park.", "Describe your breakfast."])
      .describe("prompts answered at each evaluation"),
    sampleMaxTokens: z.number().int().min(1).default(48).describe("new tokens per sample"),
    lora: loraField,
  })
  .describe("Supervised fine-tuning: learn to answer prompts like the reference responses");

export type SftConfig = z.infer<typeof sftConfigSchema>;
