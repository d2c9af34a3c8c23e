/** Messages between the main thread (./index.ts) and data-parallel workers (./worker.ts). */
import type { GPTConfig } from "../model/config";
import type { GenerateOptions } from "../model/generate";
import type { LoraSettings } from "../model/lora";

/**
 * Where one variable lives in the shared weight buffer (float32 offset) and, when it is trained, in each
 * worker's gradient buffer (`grad`).
 */
export interface ParamSlot {
  name: string;
  shape: number[];
  size: number;
  offset: number;
  grad?: number;
}

export interface WorkerSetup {
  index: number;
  config: GPTConfig;
  heads: { valueHead: boolean; rewardHead: boolean };
  /** The main model's LoRA adapters (the replica gets the same; their values come with the weights). */
  lora?: LoraSettings;
  /** Names of the variables trained on the main model (base parameters and adapters). */
  trainable: string[];
  backend: string;
  loss: { module: string; name: string };
  /** Every variable of the model: parameters, then adapters. */
  layout: ParamSlot[];
  /** The main model's weights, written by the main thread before a step. */
  weights: SharedArrayBuffer;
  /** This worker's gradients (the trained slots), written by the worker during a step. */
  grads: SharedArrayBuffer;
}

/** A batch tensor on the host: axis 0 is the batch axis that gets split across workers. */
export interface HostTensor {
  values: Int32Array | Float32Array;
  shape: number[];
  dtype: "int32" | "float32";
}

export interface StepRequest {
  id: number;
  /** Version of each layout slot's weights: the worker copies the slots whose version it has not seen. */
  versions: number[];
  trainable: string[];
  batch: Record<string, HostTensor>;
  /** Settings of the loss (its third argument). */
  options?: Record<string, unknown>;
}

/**
 * loss of the shard; rows: the loss's per-row outputs (axis 0 = the shard's rows); ms: time the worker
 * spent on the step (weights copy, gradients, write-back).
 */
/** Sample continuations of some prompts with the replica (rollouts generated across the workers). */
export interface GenerateRequest {
  kind: "generate";
  id: number;
  versions: number[];
  prompts: number[][];
  options: Omit<GenerateOptions, "onToken" | "signal">;
}

/**
 * Per-row outputs of a function of the loss module computed without gradients (`fn`, an export taking the
 * model, the shard and the options and returning tensors whose axis 0 is the shard's rows): the rollout's
 * log-probs across the workers. Answered as a StepReply with loss 0.
 */
export interface RowsRequest {
  kind: "rows";
  id: number;
  versions: number[];
  fn: string;
  batch: Record<string, HostTensor>;
  options?: Record<string, unknown>;
}

/** Each prompt's new tokens (a GenerateRequest's answer); ms: time the worker spent sampling. */
export type GenerateReply = { id: number; tokens: number[][]; ms: number } | { id: number; error: string };

export type StepReply =
  | { id: number; loss: number; rows: Record<string, HostTensor>; ms: number }
  | { id: number; error: string };
