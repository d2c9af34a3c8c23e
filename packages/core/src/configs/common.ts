import { z } from "zod";

/** Compute backend for tfjs: the fastest that loads (`auto`), or a named one. */
export const backendSchema = z
  .enum(["auto", "tensorflow", "webgpu", "wasm", "cpu"])
  .default("auto")
  .describe(
    "tfjs backend: auto picks tensorflow (tfjs-node-gpu/CUDA or tfjs-node) when it loads, else webgpu on a hardware GPU (Dawn, Vulkan), else wasm, else cpu; webgpu also runs on a software adapter (SwiftShader) when asked for",
  );

/**
 * A checkpoint to start from: a checkpoint directory, or `run:<run id or name>` for the latest
 * checkpoint of a run of this workbench (how a pipeline links its stages).
 */
export const checkpointRef = z
  .string()
  .min(1, "give a checkpoint directory or run:<id>")
  .describe("checkpoint directory, or run:<run id or name> for that run's final checkpoint");

export const modelPresets = ["tiny", "small", "gpt2"] as const;

/** Architecture of a model trained from scratch; presets fill what is not given. */
export const modelSchema = z
  .object({
    preset: z
      .enum(modelPresets)
      .default("tiny")
      .describe(
        "tiny: d=128, 4 layers, 4 heads, context 128; small: d=256, 6 layers, 8 heads, context 256; gpt2: the 124M GPT-2",
      ),
    nEmbd: z
      .number()
      .int()
      .positive()
      .multipleOf(8)
      .optional()
      .describe("width d of the residual stream (overrides the preset)"),
    nLayer: z
      .number()
      .int()
      .min(1)
      .max(96)
      .optional()
      .describe("number of transformer blocks (overrides the preset)"),
    nHead: z
      .number()
      .int()
      .min(1)
      .max(64)
      .optional()
      .describe("attention heads; must divide nEmbd (overrides the preset)"),
    nPositions: z
      .number()
      .int()
      .min(8)
      .max(8192)
      .optional()
      .describe("context length the model can attend over (overrides the preset)"),
  })
  .default({ preset: "tiny" })
  .describe("architecture of a model trained from scratch");

/** Optimiser and schedule shared by every trainer: AdamW, warm-up then cosine decay, clipping. */
export const optimSchema = z.object({
  learningRate: z
    .number()
    .positive()
    .max(1)
    .default(1e-3)
    .describe("peak learning rate, reached after warm-up"),
  minLearningRate: z.number().min(0).default(1e-4).describe("learning rate at the end of the cosine decay"),
  warmupSteps: z
    .number()
    .int()
    .min(0)
    .default(20)
    .describe("linear warm-up from 0 to the peak learning rate"),
  weightDecay: z
    .number()
    .min(0)
    .max(1)
    .default(0.1)
    .describe(
      "AdamW decoupled weight decay, on tensors of rank ≥ 2 (weight matrices and embeddings), never on biases or LayerNorm",
    ),
  beta1: z.number().min(0).lt(1).default(0.9).describe("Adam β1"),
  beta2: z
    .number()
    .min(0)
    .lt(1)
    .default(0.95)
    .describe("Adam β2 (0.95 as in GPT-3 / nanoGPT: steadier for small batches)"),
  epsilon: z.number().positive().default(1e-8).describe("Adam ε"),
  gradClip: z.number().min(0).default(1).describe("clip gradients to this global L2 norm (0 = no clipping)"),
  gradAccumSteps: z
    .number()
    .int()
    .min(1)
    .default(1)
    .describe("micro-batches whose gradients are summed before one optimiser step"),
});

/** Data parallelism of the language-model trainers. */
export const workersSchema = z
  .number()
  .int()
  .min(1)
  .max(16)
  .default(1)
  .describe(
    "worker threads that split every batch, each with its own backend (2 uses both cores of a 2-core machine on wasm); 1 = this thread only",
  );

/** How often a run evaluates, checkpoints, samples and logs. */
export const cadenceSchema = z.object({
  evalEvery: z
    .number()
    .int()
    .min(1)
    .default(50)
    .describe("evaluate on the held-out split every N steps (and at the end)"),
  evalBatches: z.number().int().min(1).default(4).describe("batches of held-out data per evaluation"),
  checkpointEvery: z
    .number()
    .int()
    .min(1)
    .default(100)
    .describe("save a checkpoint every N steps (and at the end)"),
  logEvery: z.number().int().min(1).default(1).describe("write training metrics every N steps"),
});

export const commonSchema = z.object({
  seed: z.number().int().min(0).default(1234).describe("seed for initialisation, data order and sampling"),
  backend: backendSchema,
});

/** A shared field with another default for one trainer (the doc comes along). */
export function withDefault<T extends z.ZodType>(
  field: z.ZodDefault<T>,
  value: z.util.NoUndefined<z.core.output<T>>,
  description?: string,
) {
  return field
    .unwrap()
    .default(value)
    .describe(description ?? field.description ?? "");
}

export type OptimConfig = z.infer<typeof optimSchema>;
export type CadenceConfig = z.infer<typeof cadenceSchema>;
