/**
 * Data parallelism across worker threads: the averaged shard gradients equal the single-thread
 * gradients of the whole batch, weights follow the optimiser, and a failing loss surfaces its error.
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { GPT, type GPTConfig, maskedCrossEntropy, mulberry32 } from "../src/model";
import { DataParallel, type HostTensor } from "../src/parallel";

const config: GPTConfig = {
  vocabSize: 37,
  nPositions: 16,
  nEmbd: 32,
  nLayer: 2,
  nHead: 4,
  layerNormEpsilon: 1e-5,
  initializerRange: 0.1,
};
const rows = 5; // uneven split across two workers: 3 + 2
const time = 12;
let model: GPT;
let parallel: DataParallel;

const random = mulberry32(3);
const ids = (): HostTensor => ({
  values: Int32Array.from({ length: rows * time }, () => Math.floor(random() * config.vocabSize)),
  shape: [rows, time],
  dtype: "int32",
});

beforeAll(async () => {
  await initBackend("wasm");
  model = new GPT(config, { seed: 1 });
  parallel = await DataParallel.create(model, { workers: 2 });
});
afterAll(async () => {
  await parallel.dispose();
  model.dispose();
});

function singleThread(batch: { inputIds: HostTensor; targets: HostTensor }) {
  return tf.tidy(() => {
    const x = tf.tensor(batch.inputIds.values, batch.inputIds.shape, "int32");
    const y = tf.tensor(batch.targets.values, batch.targets.shape, "int32");
    // mean over all positions: rows have equal lengths, so row-weighted shard averaging is exact
    const { value, grads } = tf.variableGrads(
      () => maskedCrossEntropy(model.forward(x).logits as tf.Tensor, y),
      model.trainableVariables(),
    );
    return {
      loss: value.dataSync()[0] as number,
      grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, g.dataSync()])),
    };
  });
}

describe("DataParallel", () => {
  it("averages shard gradients into the full-batch gradient, and follows the optimiser", async () => {
    const optimizer: tf.Optimizer = tf.train.adam(1e-2);
    for (let step = 0; step < 3; step++) {
      const batch = { inputIds: ids(), targets: ids() };
      const reference = singleThread(batch);
      const { loss, grads } = await parallel.gradients(batch);
      expect(loss).toBeCloseTo(reference.loss, 5);
      expect(Object.keys(grads).sort()).toEqual(Object.keys(reference.grads).sort());
      for (const [name, g] of Object.entries(grads)) {
        const want = reference.grads[name] as Float32Array;
        const got = g.dataSync();
        let worst = 0;
        let scale = 0;
        for (let i = 0; i < want.length; i++) {
          worst = Math.max(worst, Math.abs((got[i] as number) - (want[i] as number)));
          scale = Math.max(scale, Math.abs(want[i] as number));
        }
        if (worst > 1e-6 + 1e-4 * scale) throw new Error(`${name}: differs by ${worst} (scale ${scale})`);
      }
      optimizer.applyGradients(grads); // the next step's workers must see these weights
      tf.dispose(Object.values(grads));
    }
    optimizer.dispose();
  });

  it("only differentiates trainable variables", async () => {
    const frozen = model.param("wpe.weight");
    frozen.trainable = false;
    try {
      const { grads } = await parallel.gradients({ inputIds: ids(), targets: ids() });
      expect(grads[frozen.name]).toBeUndefined();
      expect(Object.keys(grads).length).toBe(model.trainableVariables().length);
      tf.dispose(Object.values(grads));
    } finally {
      frozen.trainable = true;
    }
  });

  it("reports a loss error from the workers", async () => {
    await expect(parallel.gradients({ inputIds: ids() })).rejects.toThrow(/needs inputIds and targets/);
    const { grads } = await parallel.gradients({ inputIds: ids(), targets: ids() }); // still usable
    tf.dispose(Object.values(grads));
  });
});
