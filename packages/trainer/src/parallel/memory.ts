/**
 * How much of the tfjs-wasm heap a training step needs, and the largest micro-batch that fits.
 *
 * tfjs-backend-wasm keeps every tensor in one WebAssembly memory of at most 4 GiB (32-bit addresses) that
 * only grows. A step that does not fit aborts inside a kernel ("Aborted()", "memory access out of
 * bounds") after minutes of work, so trainers plan before the first step: the estimate below counts what
 * the model code keeps (see ops.ts: each custom op's `saved` tensors) and what the optimiser holds, with
 * factors measured on GPT-2 small (bench/gpt2-small.ts: the heap's high-water mark after the forward and
 * backward passes at 2 x 128 and 8 x 128 tokens). Figures are float32 bytes; the budget leaves room for
 * the allocator's fragmentation.
 */
import * as tf from "@tensorflow/tfjs";
import type { GPTConfig } from "../model/config";
import type { GPT } from "../model/gpt";

/** The wasm heap's hard limit (4 GiB). */
export const WASM_HEAP_LIMIT = 4 * 1024 ** 3;
/** What a plan may use of it: the rest is the allocator's fragmentation and small tensors. */
export const WASM_HEAP_BUDGET = Math.floor(0.8 * WASM_HEAP_LIMIT);

const F32 = 4;
/** Rows per chunk of the fused LM head (ops.ts LM_HEAD_CHUNK_ROWS). */
const LM_HEAD_CHUNK_ROWS = 256;

export interface TrainingMemoryInput {
  config: GPTConfig;
  /** Sequences per micro-batch (all forward/backward passes of one micro-step, e.g. chosen + rejected). */
  microBatch: number;
  /** Tokens per sequence. */
  seqLen: number;
  /** Parameters held (base, heads and adapters). */
  totalParams: number;
  /** Parameters the optimiser updates. */
  trainableParams: number;
  /** Elements of the largest trainable parameter (an update's temporaries are its size). */
  largestTrainable: number;
  /** Whether the token embedding (and tied LM head) is trained: its gradient is a [V, d] product. */
  embeddingTrained: boolean;
  /** AdamW's moments on the tfjs heap (train/adamw.ts) or outside it (HostAdamW). */
  optimizer: "heap" | "host";
  /** Log-probs through the fused LM head (forward with targets) rather than logits → logProbsOf. */
  fusedLmHead: boolean;
  /** No LM head at all: the reward model reads its score head only (default false). */
  scoresOnly?: boolean;
  /** Micro-steps accumulated per update (> 1 holds a running sum of gradients beside the new ones). */
  accumulation: number;
}

export interface TrainingMemoryEstimate {
  weights: number;
  gradients: number;
  optimizer: number;
  activations: number;
  /** Peak bytes on the heap during a step. */
  total: number;
}

/** Bytes of the tfjs heap at the peak of one training step (see the module comment). */
export function estimateTrainingMemory(input: TrainingMemoryInput): TrainingMemoryEstimate {
  const { config, microBatch, seqLen } = input;
  const d = config.nEmbd;
  const vocab = config.vocabSize;
  const tokens = microBatch * seqLen;
  // Kept per token and layer for the backward pass (ops.ts): layer norms' x̂ (2d), q, k, v (3d), the
  // attention probabilities (nh·T), the inputs of c_attn, attn.c_proj, c_fc (d each) and mlp.c_proj (4d),
  // GELU's input (4d) — 16d; measured, the heap grows by about 36d + nh·T per token and layer (tfjs keeps
  // the outputs of recorded ops too). LoRA keeps the same (its adapters save the inputs the frozen
  // products do not).
  const perTokenLayer = 36 * d + config.nHead * seqLen;
  // Logits only, or logits + softmax + one-hot; none for a score head.
  const lmHead = input.scoresOnly ? 0 : input.fusedLmHead ? vocab : 3 * vocab;
  const activations = F32 * tokens * (config.nLayer * perTokenLayer + lmHead + 2 * d);
  // The backward pass: tfjs keeps every op's incoming gradient until the pass ends (~18d per token and
  // layer), plus a chunk of dz [256, V] (all N rows unfused), the LM head's [V, d] weight gradient and
  // its running sum when the embedding trains, attention's dP and dS.
  const dzRows = input.scoresOnly ? 0 : input.fusedLmHead ? Math.min(LM_HEAD_CHUNK_ROWS, tokens) : tokens;
  const backward =
    F32 *
    (2 * dzRows * vocab +
      (input.embeddingTrained ? 2 * vocab * d : 0) +
      tokens * (config.nLayer * 18 * d + 2 * config.nHead * seqLen));
  // The weights, the LM head's cached transpose wteᵀ, and XNNPACK's packed copy of every matrix it
  // multiplies by (kept with its operator for as long as the weight lives).
  const weights = F32 * 2 * (input.totalParams + vocab * d);
  const gradients = F32 * input.trainableParams * (input.accumulation > 1 ? 2 : 1);
  const optimizer = input.optimizer === "heap" ? 2 * F32 * input.trainableParams : 0;
  // The update: tfjs AdamW makes ~5 temporaries the size of a parameter, HostAdamW one new copy.
  const update = F32 * input.largestTrainable * (input.optimizer === "heap" ? 5 : 1);
  const total =
    weights + optimizer + Math.max(gradients + activations + backward, F32 * input.trainableParams + update);
  return { weights, gradients, optimizer, activations, total };
}

export interface MicroBatchPlan {
  microBatch: number;
  accumulation: number;
  estimate: TrainingMemoryEstimate;
  /** For the run's log when the batch was split (undefined when it fits whole). */
  message?: string;
}

export class MemoryPlanError extends Error {
  override name = "MemoryPlanError";
}

const gb = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(2)} GB`;

/**
 * The largest micro-batch (a divisor of `batch`, so every micro-step has as many rows) whose step fits in
 * `budget`, with the accumulation that makes up `batch`. Throws MemoryPlanError — before any step runs —
 * saying what a micro-batch of 1 needs and what to change when even that does not fit. `what` names a
 * batch's elements in the messages ("sequences", "rankings", "pairs"); `where` the heap ("per worker").
 */
export function planMicroBatch(
  batch: number,
  estimateFor: (microBatch: number, accumulation: number) => TrainingMemoryEstimate,
  options: { budget?: number; what?: string; where?: string } = {},
): MicroBatchPlan {
  const budget = options.budget ?? WASM_HEAP_BUDGET;
  const of = options.what ? ` ${options.what}` : "";
  const where = options.where ? ` ${options.where}` : "";
  const whole = estimateFor(batch, 1);
  if (whole.total <= budget) return { microBatch: batch, accumulation: 1, estimate: whole };
  for (let micro = batch - 1; micro >= 1; micro--) {
    if (batch % micro !== 0) continue;
    const estimate = estimateFor(micro, batch / micro);
    if (estimate.total <= budget) {
      return {
        microBatch: micro,
        accumulation: batch / micro,
        estimate,
        message:
          `memory: a batch of ${batch}${of} needs ~${gb(whole.total)}${where} of the ${gb(budget)} wasm heap budget; ` +
          `training with micro-batches of ${micro} accumulated ${batch / micro} times (~${gb(estimate.total)}${where})`,
      };
    }
  }
  const one = estimateFor(1, batch);
  throw new MemoryPlanError(
    `memory: even a micro-batch of 1${options.what ? ` (one of the ${options.what})` : ""} needs ~${gb(one.total)} of the wasm heap${where}, whose budget is ${gb(budget)} ` +
      `(weights ${gb(one.weights)}, gradients ${gb(one.gradients)}, optimiser ${gb(one.optimizer)}, ` +
      `activations ${gb(one.activations)}). Train LoRA adapters instead of every weight (lora: {}), ` +
      "shorten the sequences (maxLength), or run on the tensorflow backend (no 4 GiB heap).",
  );
}

/** TrainingMemoryInput for `model` as it is (its trainable parameters, adapters and heads). */
export function memoryInputOf(
  model: GPT,
  step: Pick<
    TrainingMemoryInput,
    "microBatch" | "seqLen" | "optimizer" | "fusedLmHead" | "accumulation" | "scoresOnly"
  >,
): TrainingMemoryInput {
  const trainable = [...model.trainableParams().values()];
  return {
    ...step,
    config: model.config,
    totalParams: model.numParams() + (model.lora?.numParams() ?? 0),
    trainableParams: trainable.reduce((n, v) => n + v.size, 0),
    largestTrainable: Math.max(0, ...trainable.map((v) => v.size)),
    embeddingTrained: model.param("wte.weight").trainable,
  };
}

/**
 * Bytes of the wasm heap now: WebAssembly memory only grows, so this is the high-water mark of the process
 * so far. Undefined on other backends.
 */
export function wasmHeapBytes(): number | undefined {
  const backend =
    tf.getBackend() === "wasm" ? (tf.backend() as { wasm?: { HEAPU8?: Uint8Array } }) : undefined;
  return backend?.wasm?.HEAPU8?.buffer.byteLength;
}

export interface ModelPlanOptions {
  optimizer: "heap" | "host";
  fusedLmHead: boolean;
  scoresOnly?: boolean;
  gradAccumSteps: number;
  budget?: number;
  /** Sequences of one batch element (a ranking's completions, DPO's chosen + rejected; default 1). */
  rowsPerItem?: number;
  /** Data-parallel worker threads, each with a heap of its own (default 1: this thread). */
  workers?: number;
  /** The batch's elements, in messages (default "sequences"). */
  what?: string;
}

/**
 * planMicroBatch for `model` training on batches of `items` elements of `rowsPerItem` sequences of `seqLen`
 * tokens, `gradAccumSteps` of them per update (one more micro-step adds a gradient sum beside the new
 * gradients). With data-parallel workers each worker's heap holds a replica, its share of a micro-batch's
 * activations and its gradients (no optimiser), and this thread's the weights, the optimiser and the summed
 * gradients: both must fit.
 */
export function planModelMicroBatch(
  model: GPT,
  items: number,
  seqLen: number,
  o: ModelPlanOptions,
): MicroBatchPlan {
  const rowsPerItem = o.rowsPerItem ?? 1;
  const workers = o.workers ?? 1;
  const step = { seqLen, fusedLmHead: o.fusedLmHead, scoresOnly: o.scoresOnly };
  const estimateFor = (micro: number, accumulation: number): TrainingMemoryEstimate => {
    const accumulate = accumulation * o.gradAccumSteps;
    if (workers === 1) {
      return estimateTrainingMemory(
        memoryInputOf(model, {
          ...step,
          microBatch: micro * rowsPerItem,
          optimizer: o.optimizer,
          accumulation: accumulate,
        }),
      );
    }
    const worker = estimateTrainingMemory(
      memoryInputOf(model, {
        ...step,
        microBatch: Math.ceil(micro / Math.min(workers, micro)) * rowsPerItem,
        optimizer: "host", // a worker holds no optimiser: its update term is one gradient copy
        accumulation: 1,
      }),
    );
    const main = estimateTrainingMemory(
      memoryInputOf(model, { ...step, microBatch: 0, optimizer: o.optimizer, accumulation: accumulate }),
    );
    return { ...worker, optimizer: main.optimizer, total: Math.max(worker.total, main.total) };
  };
  return planMicroBatch(items, estimateFor, {
    budget: o.budget,
    what: o.what ?? "sequences",
    ...(workers > 1 ? { where: "per worker" } : {}),
  });
}
