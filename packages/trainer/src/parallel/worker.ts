/**
 * One data-parallel worker thread: its own tfjs backend and replica of the model. Per step it copies the
 * main thread's weights from shared memory (when they changed), computes the gradients of the loss on
 * its shard of the batch, and writes them to its shared gradient buffer. See ./index.ts.
 */
import { parentPort, workerData } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { type BackendPreference, initBackend } from "../backend";
import { GPT } from "../model/gpt";
import type { ShardLoss } from "./losses";
import type { StepReply, StepRequest, WorkerSetup } from "./protocol";

const setup = workerData as WorkerSetup;
const port = parentPort;
if (!port) throw new Error("parallel/worker.ts must run in a worker thread");

await initBackend(setup.backend as BackendPreference);
const model = new GPT(setup.config, { ...setup.heads, init: "zeros", name: `worker${setup.index}` });
const lossModule = (await import(setup.loss.module)) as Record<string, unknown>;
const loss = lossModule[setup.loss.name] as ShardLoss | undefined;
if (typeof loss !== "function")
  throw new Error(`${setup.loss.module} has no exported function ${setup.loss.name}`);
const weights = new Float32Array(setup.weights);
const grads = new Float32Array(setup.grads);
let weightsVersion = -1;

function loadWeights(): void {
  tf.tidy(() => {
    for (const { name, offset, shape, size } of setup.layout) {
      model.param(name).assign(tf.tensor(weights.subarray(offset, offset + size), shape));
    }
  });
}

function step(request: StepRequest): StepReply {
  const start = performance.now();
  if (request.weightsVersion !== weightsVersion) {
    loadWeights();
    weightsVersion = request.weightsVersion;
  }
  const wanted = new Set(request.trainable);
  const entries = setup.layout.filter((p) => wanted.has(p.name));
  const value = tf.tidy(() => {
    const batch: Record<string, tf.Tensor> = {};
    for (const [key, t] of Object.entries(request.batch)) batch[key] = tf.tensor(t.values, t.shape, t.dtype);
    const variables = entries.map((p) => model.param(p.name));
    const result = tf.variableGrads(() => (loss as ShardLoss)(model, batch), variables);
    for (const [i, p] of entries.entries()) {
      const g = result.grads[(variables[i] as tf.Variable).name];
      if (g) grads.set(g.dataSync(), p.offset);
      else grads.fill(0, p.offset, p.offset + p.size);
    }
    return result.value.dataSync()[0] as number;
  });
  return { id: request.id, loss: value, ms: performance.now() - start };
}

port.on("message", (request: StepRequest) => {
  try {
    port.postMessage(step(request));
  } catch (error) {
    port.postMessage({
      id: request.id,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
  }
});
port.postMessage({ ready: true });
