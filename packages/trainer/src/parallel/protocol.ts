/** Messages between the main thread (./index.ts) and data-parallel workers (./worker.ts). */
import type { GPTConfig } from "../model/config";

/** Where one parameter lives in the shared weight and gradient buffers (float32 offsets). */
export interface ParamSlot {
  name: string;
  shape: number[];
  size: number;
  offset: number;
}

export interface WorkerSetup {
  index: number;
  config: GPTConfig;
  heads: { valueHead: boolean; rewardHead: boolean };
  backend: string;
  loss: { module: string; name: string };
  layout: ParamSlot[];
  /** The main model's weights, written by the main thread before a step. */
  weights: SharedArrayBuffer;
  /** This worker's gradients, written by the worker during a step. */
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
  weightsVersion: number;
  trainable: string[];
  batch: Record<string, HostTensor>;
}

/** loss of the shard; ms: time the worker spent on the step (weights copy, gradients, write-back). */
export type StepReply = { id: number; loss: number; ms: number } | { id: number; error: string };
