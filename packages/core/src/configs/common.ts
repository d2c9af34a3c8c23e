import { z } from "zod";
import { editDistance } from "../edit-distance";

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

/** Data parallelism of every trainer: worker threads that split each batch. */
export const workersSchema = z
  .union([z.literal("auto"), z.number().int().min(1).max(16)])
  .default("auto")
  .describe(
    "worker threads that split every batch, each with its own backend: auto = one per core (os.availableParallelism()) on wasm and cpu, 1 on webgpu and tensorflow (one device, or a backend with threads of its own); a number (1 to 16) asks for that many; never more than a micro-batch has rows; 1 = this thread only",
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

/**
 * Keys of `input` that `schema` does not know, each as a config issue naming the key and the closest known
 * one. zod objects drop unknown keys silently, so a typo ("learningRat") would launch a run with the
 * default; every job config (and any config a person writes) is checked with this first. Records take any
 * key; unions are not second-guessed.
 */
export function unknownConfigKeys(schema: z.ZodType, input: unknown, path: string[] = []): ConfigIssue[] {
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  switch (def.type) {
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
    case "catch":
    case "nonoptional":
      return unknownConfigKeys(def.innerType as z.ZodType, input, path);
    case "pipe":
      return unknownConfigKeys(def.in as z.ZodType, input, path);
    case "array":
      return Array.isArray(input)
        ? input.flatMap((item, i) => unknownConfigKeys(def.element as z.ZodType, item, [...path, String(i)]))
        : [];
    case "record":
      return input && typeof input === "object" && !Array.isArray(input)
        ? Object.entries(input).flatMap(([key, value]) =>
            unknownConfigKeys(def.valueType as z.ZodType, value, [...path, key]),
          )
        : [];
    case "object": {
      if (!input || typeof input !== "object" || Array.isArray(input)) return [];
      const shape = def.shape as Record<string, z.ZodType>;
      const known = Object.keys(shape);
      const catchall = def.catchall as z.ZodType | undefined;
      const open =
        catchall !== undefined &&
        (catchall as unknown as { _zod: { def: { type: string } } })._zod.def.type !== "never";
      return Object.entries(input).flatMap(([key, value]) => {
        if (Object.hasOwn(shape, key)) return unknownConfigKeys(shape[key]!, value, [...path, key]);
        if (open) return [];
        const near = closestKey(key, known);
        return [
          {
            path: [...path, key].join("."),
            message: near
              ? `unknown key "${key}"; did you mean "${near}"?`
              : `unknown key "${key}"; known keys here: ${known.join(", ")}`,
          },
        ];
      });
    }
    default:
      return [];
  }
}

export interface ConfigIssue {
  path: string;
  message: string;
}

/** The known key nearest to `key` in edit distance (case ignored), if it is near enough to be a typo. */
export function closestKey(key: string, known: string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (!best || distance < best.distance) best = { key: candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(key.length / 3)) ? best.key : undefined;
}
