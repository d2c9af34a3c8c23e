import { z } from "zod";
import { cadenceSchema, commonSchema, modelSchema, optimSchema, workersSchema } from "./common";
import { checkpointFrom, datasetName } from "./refs-meta";

/** Stage 1: causal language modelling on a text corpus, packed into fixed-length blocks. */
export const pretrainConfigSchema = z
  .object({
    ...commonSchema.shape,
    ...optimSchema.shape,
    ...cadenceSchema.shape,
    dataset: datasetName("text").default("demo-corpus").describe("name of a text dataset in the workbench"),
    model: modelSchema,
    init: checkpointFrom(["pretrain"])
      .optional()
      .describe("start from this checkpoint instead of random weights (continued pretraining)"),
    tokenizer: z
      .object({
        path: z.string().optional().describe("an existing tokenizer.json to use instead of training one"),
        vocabSize: z
          .number()
          .int()
          .min(260)
          .max(100_000)
          .default(512)
          .describe("vocabulary size of the byte-level BPE trained on the corpus"),
      })
      .default({ vocabSize: 512 })
      .describe("tokenizer: trained on the corpus unless a tokenizer.json is given"),
    maxSteps: z.number().int().min(1).default(300).describe("optimiser steps to train for"),
    workers: workersSchema,
    batchSize: z.number().int().min(1).default(16).describe("sequences per micro-batch"),
    blockSize: z
      .number()
      .int()
      .min(8)
      .max(8192)
      .default(128)
      .describe("tokens per training sequence (≤ the model's context)"),
    evalFraction: z
      .number()
      .gt(0)
      .lt(1)
      .default(0.05)
      .describe("share of the corpus held out for evaluation (bits per byte)"),
    samplePrompts: z
      .array(z.string())
      .default(["The weather today", "My favourite food"])
      .describe("prompts generated from at each evaluation"),
    sampleMaxTokens: z.number().int().min(1).default(32).describe("new tokens per sample"),
  })
  .describe("Pretraining: next-token prediction on a text corpus");

export type PretrainConfig = z.infer<typeof pretrainConfigSchema>;
