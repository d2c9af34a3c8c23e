/**
 * Data parallelism across worker threads, for the single-threaded backends (wasm in Node runs one
 * thread; two workers, each with its own wasm instance, use both cores of a 2-core machine).
 *
 * The main thread keeps the model and the optimiser. `gradients(batch)` splits the batch along axis 0,
 * each worker computes the gradients of the loss on its shard with a replica whose weights it copies
 * from shared memory when they changed, and the main thread averages the shard gradients (weighted by
 * shard rows) into tensors keyed like its own variables, ready for `optimizer.applyGradients`.
 *
 * The loss must be importable by the workers: name a module and an export (see ./losses.ts). With a
 * loss that is a mean over the shard's rows, the row-weighted average equals the full-batch gradient; a
 * loss normalised otherwise scales itself (see languageModelLoss). The workers' replicas have the model's
 * heads and LoRA adapters; the loss may return per-row outputs, which come back concatenated.
 */
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import type { BackendPreference } from "../backend";
import type { GenerateOptions } from "../model/generate";
import type { GPT } from "../model/gpt";
import type {
  GenerateReply,
  GenerateRequest,
  HostTensor,
  ParamSlot,
  RowsRequest,
  StepReply,
  StepRequest,
  WorkerSetup,
} from "./protocol";

export type { ShardLoss, ShardLossResult } from "./losses";
export { languageModelLoss } from "./losses";
export type { HostTensor } from "./protocol";

export interface DataParallelOptions {
  /** Worker threads (default: os.availableParallelism(), one per core). */
  workers?: number;
  /** Module (file URL or absolute path) and export of the loss (default ./losses.ts languageModelLoss). */
  loss?: { module: string; name: string };
  /** Backend of the workers (default "wasm"). */
  backend?: BackendPreference;
}

export interface ParallelGradients {
  /** Row-weighted mean of the shard losses. */
  loss: number;
  /** Milliseconds each worker spent on its shard (their spread shows imbalance or CPU contention). */
  workerMs: number[];
  /** Averaged gradients keyed by the main model's variable names; the caller disposes them. */
  grads: tf.NamedTensorMap;
  /** The loss's per-row outputs, the shards' concatenated along axis 0 (in the batch's row order). */
  rows: Record<string, HostTensor>;
}

type Reply = StepReply | GenerateReply;
type Pending = { resolve: (reply: Reply) => void; reject: (error: Error) => void };

/** Every variable of `model` by name: its parameters (heads included), then its LoRA adapters. */
function modelVariables(model: GPT): Map<string, tf.Variable> {
  return new Map([...model.params, ...(model.lora?.namedVariables() ?? [])]);
}

export class DataParallel {
  private readonly weights: Float32Array;
  private readonly gradBuffers: Float32Array[];
  private readonly variables: Map<string, tf.Variable>;
  /** Per slot: the data the shared buffer holds (a variable gets new data at each optimiser step). */
  private readonly synced: (object | undefined)[];
  private readonly versions: number[];
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | undefined;

  private constructor(
    private readonly model: GPT,
    private readonly workers: Worker[],
    private readonly layout: ParamSlot[],
    weights: SharedArrayBuffer,
    grads: SharedArrayBuffer[],
  ) {
    this.weights = new Float32Array(weights);
    this.gradBuffers = grads.map((g) => new Float32Array(g));
    this.variables = modelVariables(model);
    this.synced = layout.map(() => undefined);
    this.versions = layout.map(() => 0);
    for (const worker of workers) {
      worker.on("message", (reply: Reply) => {
        const waiting = this.pending.get(reply.id);
        if (!waiting) return;
        this.pending.delete(reply.id);
        waiting.resolve(reply);
      });
      const fail = (error: Error) => {
        this.failure = error;
        for (const waiting of this.pending.values()) waiting.reject(error);
        this.pending.clear();
      };
      worker.on("error", fail);
      worker.on("exit", (code) => {
        if (code !== 0) fail(new Error(`data-parallel worker exited with code ${code}`));
      });
    }
  }

  /**
   * Start the workers (each initialises its backend and a replica of `model`'s architecture, heads and
   * LoRA adapters; the variables trained now are the ones the workers can compute gradients for).
   */
  static async create(model: GPT, options: DataParallelOptions = {}): Promise<DataParallel> {
    const count = options.workers ?? os.availableParallelism();
    if (!Number.isInteger(count) || count < 1)
      throw new Error(`DataParallel: workers must be >= 1, got ${count}`);
    const layout: ParamSlot[] = [];
    let total = 0;
    let trained = 0;
    for (const [name, p] of modelVariables(model)) {
      layout.push({
        name,
        shape: [...p.shape],
        size: p.size,
        offset: total,
        ...(p.trainable ? { grad: trained } : {}),
      });
      total += p.size;
      if (p.trainable) trained += p.size;
    }
    const weights = new SharedArrayBuffer(total * 4);
    const grads = Array.from({ length: count }, () => new SharedArrayBuffer(trained * 4));
    // The workers run TypeScript sources, like the CLI, through tsx: a small ESM entry registers tsx's
    // loader in the worker thread (an inherited --import does not reach worker threads), then imports
    // worker.ts.
    const tsxDir = path.dirname(createRequire(import.meta.url).resolve("tsx/package.json"));
    const tsxApi = pathToFileURL(path.join(tsxDir, "dist", "esm", "api", "index.mjs")).href; // tsx/esm/api, ESM build
    const workerModule = new URL("./worker.ts", import.meta.url).href;
    const entry = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(workerModule)});`;
    const entryUrl = new URL(`data:text/javascript,${encodeURIComponent(entry)}`);
    const loss = options.loss ?? {
      module: new URL("./losses.ts", import.meta.url).href,
      name: "languageModelLoss",
    };
    const workers = grads.map((g, index) => {
      const setup: WorkerSetup = {
        index,
        config: model.config,
        heads: { valueHead: model.hasValueHead, rewardHead: model.hasRewardHead },
        ...(model.lora ? { lora: model.lora.settings } : {}),
        trainable: layout.filter((slot) => slot.grad !== undefined).map((slot) => slot.name),
        backend: options.backend ?? "wasm",
        loss: {
          module: loss.module.startsWith("file:") ? loss.module : pathToFileURL(loss.module).href,
          name: loss.name,
        },
        layout,
        weights,
        grads: g,
      };
      return new Worker(entryUrl, { workerData: setup });
    });
    try {
      await Promise.all(workers.map((worker, i) => workerReady(worker, i)));
    } catch (error) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw error;
    }
    return new DataParallel(model, workers, layout, weights, grads);
  }

  /** Number of worker threads. */
  get size(): number {
    return this.workers.length;
  }

  /**
   * Gradients of the loss on `batch` (every entry split along axis 0 across the workers) w.r.t. the
   * main model's trainable variables, at its current weights; `options` are the loss's settings.
   */
  async gradients(
    batch: Record<string, HostTensor | tf.Tensor>,
    o: { options?: Record<string, unknown> } = {},
  ): Promise<ParallelGradients> {
    if (this.failure) throw this.failure;
    this.syncWeights();
    const host = Object.fromEntries(Object.entries(batch).map(([k, t]) => [k, toHost(t)]));
    const rows = Object.values(host)[0]?.shape[0] ?? 0;
    for (const [key, t] of Object.entries(host)) {
      if (t.shape[0] !== rows)
        throw new Error(`DataParallel: batch.${key} has ${t.shape[0]} rows, expected ${rows}`);
    }
    const shards = splitRows(rows, this.workers.length);
    const trainable = new Set(this.model.trainableVariables());
    const names = [...this.variables].filter(([, v]) => trainable.has(v)).map(([n]) => n);
    const replies = await Promise.all(
      shards.map(([start, count], w) => {
        const request: StepRequest = {
          id: this.nextId++,
          versions: this.versions,
          trainable: names,
          batch: Object.fromEntries(Object.entries(host).map(([k, t]) => [k, sliceRows(t, start, count)])),
          ...(o.options ? { options: o.options } : {}),
        };
        return new Promise<StepReply>((resolve, reject) => {
          this.pending.set(request.id, { resolve: (reply) => resolve(reply as StepReply), reject });
          (this.workers[w] as Worker).postMessage(request);
        });
      }),
    );
    let loss = 0;
    const workerMs: number[] = [];
    const outputs: Record<string, HostTensor>[] = [];
    replies.forEach((reply, w) => {
      if ("error" in reply) throw new Error(`data-parallel worker ${w}: ${reply.error}`);
      loss += (reply.loss * (shards[w]?.[1] as number)) / rows;
      workerMs.push(reply.ms);
      outputs.push(reply.rows);
    });
    return { loss, grads: this.averageGradients(shards, rows, names), workerMs, rows: concatRows(outputs) };
  }

  /**
   * Sample continuations of `prompts` across the workers, each with its replica at the main model's current
   * weights: contiguous shares of the rows, each row drawn from its own seed (`rowSeeds`), so that a row's
   * tokens depend neither on the other rows nor on the number of workers. Returns each row's new tokens and
   * each worker's milliseconds.
   */
  async generate(
    prompts: number[][],
    options: Omit<GenerateOptions, "onToken" | "signal" | "seed" | "rowSeeds">,
    rowSeeds: number[],
  ): Promise<{ tokens: number[][]; workerMs: number[] }> {
    if (this.failure) throw this.failure;
    this.syncWeights();
    const shards = splitRows(prompts.length, this.workers.length);
    const replies = await this.ask(shards, (start, count) => ({
      kind: "generate",
      id: this.nextId++,
      versions: this.versions,
      prompts: prompts.slice(start, start + count),
      options: { ...options, rowSeeds: rowSeeds.slice(start, start + count) },
    }));
    const tokens: number[][] = [];
    const workerMs: number[] = [];
    replies.forEach((reply, w) => {
      if ("error" in reply) throw new Error(`data-parallel worker ${w}: ${reply.error}`);
      tokens.push(...(reply as { tokens: number[][] }).tokens);
      workerMs.push(reply.ms);
    });
    return { tokens, workerMs };
  }

  /**
   * `fn`, an export of the loss module, on shares of `batch`'s rows without gradients, at the main model's
   * current weights: its per-row outputs concatenated in row order (the rollout's log-probs across the workers).
   */
  async rows(
    fn: string,
    batch: Record<string, HostTensor>,
    options?: Record<string, unknown>,
  ): Promise<Record<string, HostTensor>> {
    if (this.failure) throw this.failure;
    this.syncWeights();
    const rows = Object.values(batch)[0]?.shape[0] ?? 0;
    const shards = splitRows(rows, this.workers.length);
    const replies = await this.ask(shards, (start, count) => ({
      kind: "rows",
      id: this.nextId++,
      versions: this.versions,
      fn,
      batch: Object.fromEntries(Object.entries(batch).map(([k, t]) => [k, sliceRows(t, start, count)])),
      ...(options ? { options } : {}),
    }));
    return concatRows(
      replies.map((reply, w) => {
        if ("error" in reply) throw new Error(`data-parallel worker ${w}: ${reply.error}`);
        return (reply as { rows: Record<string, HostTensor> }).rows;
      }),
    );
  }

  /** One request per shard (`message(start, count)`), each to its worker; the replies in shard order. */
  private ask(
    shards: [number, number][],
    message: (start: number, count: number) => GenerateRequest | RowsRequest,
  ): Promise<Reply[]> {
    return Promise.all(
      shards.map(([start, count], w) => {
        const request = message(start, count);
        return new Promise<Reply>((resolve, reject) => {
          this.pending.set(request.id, { resolve, reject });
          (this.workers[w] as Worker).postMessage(request);
        });
      }),
    );
  }

  /** The row-weighted mean of the workers' gradient buffers, as tensors keyed by variable name. */
  private averageGradients(shards: [number, number][], rows: number, names: string[]): tf.NamedTensorMap {
    const grads: tf.NamedTensorMap = {};
    const wanted = new Set(names);
    for (const slot of this.layout) {
      if (!wanted.has(slot.name) || slot.grad === undefined) continue;
      const sum = new Float32Array(slot.size);
      const at = slot.grad;
      shards.forEach(([, count], w) => {
        const g = (this.gradBuffers[w] as Float32Array).subarray(at, at + slot.size);
        const weight = count / rows;
        for (let i = 0; i < slot.size; i++) sum[i] = (sum[i] as number) + weight * (g[i] as number);
      });
      grads[(this.variables.get(slot.name) as tf.Variable).name] = tf.tensor(sum, slot.shape);
    }
    return grads;
  }

  /** Copy changed weights to shared memory (an optimiser step gives a variable new data). */
  private syncWeights(): void {
    for (const [i, slot] of this.layout.entries()) {
      const variable = this.variables.get(slot.name) as tf.Variable;
      if (this.synced[i] === variable.dataId) continue;
      this.weights.set(variable.dataSync() as Float32Array, slot.offset);
      this.synced[i] = variable.dataId;
      this.versions[i] = (this.versions[i] as number) + 1;
    }
  }

  async dispose(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Resolves when worker `i` has its backend and replica; rejects, naming it, if it fails to start. */
function workerReady(worker: Worker, i: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onMessage = (message: { ready?: boolean }) => {
      if (message.ready) {
        worker.off("message", onMessage);
        worker.off("error", reject);
        resolve();
      }
    };
    worker.on("message", onMessage);
    worker.once("error", (error) =>
      reject(new Error(`data-parallel worker ${i} failed to start: ${error.message}`)),
    );
  });
}

function toHost(t: HostTensor | tf.Tensor): HostTensor {
  if (!(t instanceof tf.Tensor)) return t;
  const dtype = t.dtype === "int32" ? "int32" : "float32";
  const values = dtype === "int32" ? Int32Array.from(t.dataSync()) : Float32Array.from(t.dataSync());
  return { values, shape: [...t.shape], dtype };
}

/** [start, count] of each non-empty shard of `rows` rows split into `parts` nearly equal parts. */
function splitRows(rows: number, parts: number): [number, number][] {
  const shards: [number, number][] = [];
  let start = 0;
  for (let i = 0; i < parts; i++) {
    const count = Math.floor(rows / parts) + (i < rows % parts ? 1 : 0);
    if (count > 0) shards.push([start, count]);
    start += count;
  }
  return shards;
}

/** Per-key concatenation along axis 0 of the shards' per-row statistics. */
function concatRows(parts: Record<string, HostTensor>[]): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const key of Object.keys(parts[0] ?? {})) {
    const pieces = parts.map((p) => p[key] as HostTensor);
    const first = pieces[0] as HostTensor;
    const length = pieces.reduce((n, p) => n + p.values.length, 0);
    const values = first.dtype === "int32" ? new Int32Array(length) : new Float32Array(length);
    let offset = 0;
    for (const p of pieces) {
      values.set(p.values, offset);
      offset += p.values.length;
    }
    const rows = pieces.reduce((n, p) => n + (p.shape[0] ?? 0), 0);
    out[key] = { values, shape: [rows, ...first.shape.slice(1)], dtype: first.dtype };
  }
  return out;
}

function sliceRows(t: HostTensor, start: number, count: number): HostTensor {
  const rowSize = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return {
    values: t.values.slice(start * rowSize, (start + count) * rowSize),
    shape: [count, ...t.shape.slice(1)],
    dtype: t.dtype,
  };
}
