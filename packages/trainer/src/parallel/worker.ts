/**
 * One data-parallel worker thread: its own tfjs backend and replica of the model (with the main model's
 * heads and LoRA adapters). Per step it copies the weights that changed from shared memory, computes the
 * gradients of the loss on its shard of the batch, and writes them to its shared gradient buffer. See
 * ./index.ts.
 */
import { parentPort, workerData } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { type BackendPreference, initBackend } from "../backend";
import { generate } from "../model/generate";
import { GPT } from "../model/gpt";
import { addLora } from "../model/lora";
import type { ShardLoss } from "./losses";
import type {
  GenerateReply,
  GenerateRequest,
  HostTensor,
  RowsRequest,
  StepReply,
  StepRequest,
  WorkerSetup,
} from "./protocol";

const setup = workerData as WorkerSetup;
const port = parentPort;
if (!port) throw new Error("parallel/worker.ts must run in a worker thread");

await initBackend(setup.backend as BackendPreference);
const model = new GPT(setup.config, { ...setup.heads, init: "zeros", name: `worker${setup.index}` });
if (setup.lora) addLora(model, setup.lora);
/** Every variable by the name the layout uses: parameters, then adapters. */
const variables = new Map([...model.params, ...(model.lora?.namedVariables() ?? [])]);
const trained = new Set(setup.trainable);
for (const [name, v] of variables) v.trainable = trained.has(name);
const lossModule = (await import(setup.loss.module)) as Record<string, unknown>;
const loss = lossModule[setup.loss.name] as ShardLoss | undefined;
if (typeof loss !== "function")
  throw new Error(`${setup.loss.module} has no exported function ${setup.loss.name}`);
const weights = new Float32Array(setup.weights);
const grads = new Float32Array(setup.grads);
const loaded = setup.layout.map(() => -1);

/** Copy the slots whose version this replica has not loaded. */
function loadWeights(versions: number[]): void {
  tf.tidy(() => {
    for (const [i, { name, offset, shape, size }] of setup.layout.entries()) {
      if (loaded[i] === versions[i]) continue;
      (variables.get(name) as tf.Variable).assign(tf.tensor(weights.subarray(offset, offset + size), shape));
      loaded[i] = versions[i] as number;
    }
  });
}

function toHost(t: tf.Tensor): HostTensor {
  const dtype = t.dtype === "int32" ? "int32" : "float32";
  const values = dtype === "int32" ? Int32Array.from(t.dataSync()) : Float32Array.from(t.dataSync());
  return { values, shape: [...t.shape], dtype };
}

function step(request: StepRequest): StepReply {
  const start = performance.now();
  loadWeights(request.versions);
  const wanted = new Set(request.trainable);
  const entries = setup.layout.filter((p) => wanted.has(p.name));
  let rows: Record<string, HostTensor> = {};
  const value = tf.tidy(() => {
    const batch: Record<string, tf.Tensor> = {};
    for (const [key, t] of Object.entries(request.batch)) batch[key] = tf.tensor(t.values, t.shape, t.dtype);
    const trainable = entries.map((p) => variables.get(p.name) as tf.Variable);
    const result = tf.variableGrads(() => {
      const out = (loss as ShardLoss)(model, batch, request.options ?? {});
      if (out instanceof tf.Tensor) return out;
      rows = Object.fromEntries(Object.entries(out.rows ?? {}).map(([k, t]) => [k, toHost(t)]));
      return out.loss;
    }, trainable);
    for (const [i, p] of entries.entries()) {
      if (p.grad === undefined) throw new Error(`${p.name} was not trained when the workers started`);
      const g = result.grads[(trainable[i] as tf.Variable).name];
      if (g) grads.set(g.dataSync(), p.grad);
      else grads.fill(0, p.grad, p.grad + p.size);
    }
    return result.value.dataSync()[0] as number;
  });
  return { id: request.id, loss: value, rows, ms: performance.now() - start };
}

/** A share of a rollout's prompts, sampled with the replica at the main model's weights. */
async function sample(request: GenerateRequest): Promise<GenerateReply> {
  const start = performance.now();
  loadWeights(request.versions);
  const { tokens } = await generate(model, request.prompts, request.options);
  return { id: request.id, tokens, ms: performance.now() - start };
}

/** A function of the loss module on the shard, without gradients: its per-row outputs. */
function rowsOf(request: RowsRequest): StepReply {
  const start = performance.now();
  loadWeights(request.versions);
  const fn = lossModule[request.fn];
  if (typeof fn !== "function")
    throw new Error(`${setup.loss.module} has no exported function ${request.fn}`);
  let rows: Record<string, HostTensor> = {};
  tf.tidy(() => {
    const batch: Record<string, tf.Tensor> = {};
    for (const [key, t] of Object.entries(request.batch)) batch[key] = tf.tensor(t.values, t.shape, t.dtype);
    const out = fn(model, batch, request.options ?? {}) as Record<string, tf.Tensor>;
    rows = Object.fromEntries(Object.entries(out).map(([k, t]) => [k, toHost(t)]));
  });
  return { id: request.id, loss: 0, rows, ms: performance.now() - start };
}

port.on("message", async (request: StepRequest | GenerateRequest | RowsRequest) => {
  try {
    port.postMessage(
      !("kind" in request)
        ? step(request)
        : request.kind === "generate"
          ? await sample(request)
          : rowsOf(request),
    );
  } catch (error) {
    port.postMessage({
      id: request.id,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
  }
});
port.postMessage({ ready: true });
