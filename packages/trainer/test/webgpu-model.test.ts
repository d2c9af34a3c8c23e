/**
 * The GPT on webgpu against the same GPT on wasm: forward pass, gradients of every parameter, greedy
 * generation with and without the key/value cache, and a few AdamW steps — same seeds, same inputs, the
 * results compared within float32 tolerance. Then what model/ops.ts works around on wasm, checked on
 * webgpu, and tensor and GPU-buffer memory across training steps. Runs on SwiftShader where there is no
 * GPU (slow: small shapes).
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backendInfo, initBackend } from "../src/backend";
import { GPT, type GPTConfig, generate, maskedCrossEntropy, mulberry32, normalSamples } from "../src/model";
import { AdamW } from "../src/train/adamw";
import { webgpuSkipReason, worstRatio } from "./fixtures/webgpu";

const skip = await webgpuSkipReason();

const config: GPTConfig = {
  vocabSize: 13,
  nPositions: 12,
  nEmbd: 16,
  nLayer: 2,
  nHead: 2,
  layerNormEpsilon: 1e-5,
  initializerRange: 0.3, // logits that differ clearly between tokens, so greedy choices are not near-ties
};
const ids = [
  [0, 6, 2, 9, 1, 5],
  [3, 7, 7, 2, 8, 4],
];
const mask = [
  [0, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 1, 1],
];
const targets = [
  [6, 2, 9, 1, 5, 11],
  [7, 7, 2, 8, 4, 12],
];
const prompts = [[5, 3], [1, 4, 4, 2], [9]];

/** Everything the comparison looks at, as plain numbers. */
interface Results {
  logits: Float32Array;
  values: Float32Array;
  loss: number;
  grads: Map<string, Float32Array>;
  cachedTokens: number[][];
  cachedLogProbs: number[][];
  uncachedTokens: number[][];
  stepLosses: number[];
  weightsAfter: Float32Array;
}

async function compute(): Promise<Results> {
  const model = new GPT(config, { seed: 7, valueHead: true });
  try {
    const idsT = tf.tensor2d(ids, [2, 6], "int32");
    const maskT = tf.tensor2d(mask, [2, 6], "int32");
    const targetsT = tf.tensor2d(targets, [2, 6], "int32");
    const out = tf.tidy(() => {
      const { logits, values } = model.forward(idsT, { attentionMask: maskT });
      return { logits: logits as tf.Tensor, values: values as tf.Tensor };
    });
    const logits = (await out.logits.data()) as Float32Array;
    const values = (await out.values.data()) as Float32Array;
    tf.dispose([out.logits, out.values]);

    const lossOf = () =>
      maskedCrossEntropy(model.forward(idsT, { attentionMask: maskT }).logits as tf.Tensor, targetsT, maskT);
    const trainable = [...model.params.values()];
    const { value, grads } = tf.variableGrads(lossOf, trainable);
    const loss = (await value.data())[0] as number;
    const byName = new Map<string, Float32Array>();
    for (const [name, p] of model.params) {
      const g = grads[p.name];
      if (g) byName.set(name, (await g.data()) as Float32Array);
    }
    tf.dispose([value, ...Object.values(grads)]);

    const cached = await generate(model, prompts, { maxNewTokens: 5, greedy: true, useCache: true });
    const uncached = await generate(model, prompts, { maxNewTokens: 5, greedy: true, useCache: false });

    const optimizer = new AdamW(model.params, { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1 });
    const stepLosses: number[] = [];
    for (let step = 0; step < 3; step++) {
      const result = tf.variableGrads(lossOf, trainable);
      stepLosses.push((await result.value.data())[0] as number);
      const named = new Map<string, tf.Tensor>();
      for (const [name, p] of model.params) {
        const g = result.grads[p.name];
        if (g) named.set(name, g);
      }
      optimizer.apply(named, 1e-2);
      tf.dispose([result.value, ...Object.values(result.grads)]);
    }
    const weightsAfter = (await model.param("h.1.mlp.c_fc.weight").data()) as Float32Array;
    optimizer.dispose();
    tf.dispose([idsT, maskT, targetsT]);
    return {
      logits,
      values,
      loss,
      grads: byName,
      cachedTokens: cached.tokens,
      cachedLogProbs: cached.logProbs,
      uncachedTokens: uncached.tokens,
      stepLosses,
      weightsAfter,
    };
  } finally {
    model.dispose();
  }
}

describe.skipIf(skip)(`webgpu against wasm${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let wasm: Results;
  let webgpu: Results;
  const measured: Record<string, number> = {};

  beforeAll(async () => {
    await initBackend("wasm");
    wasm = await compute();
    const info = await initBackend("webgpu");
    expect(info.name).toBe("webgpu");
    expect(info.adapter?.description).toBeTruthy();
    webgpu = await compute();
  });

  afterAll(() => {
    if (Object.keys(measured).length > 0) console.info("webgpu vs wasm, largest |difference|:", measured);
  });

  /** Within tolerance, and the worst difference recorded for the report. */
  function expectClose(what: string, a: ArrayLike<number>, e: ArrayLike<number>, atol: number, rtol: number) {
    const { ratio, maxAbs } = worstRatio(a, e, atol, rtol);
    measured[what] = Math.max(measured[what] ?? 0, maxAbs);
    expect(ratio, `${what}: largest difference ${maxAbs} (atol ${atol}, rtol ${rtol})`).toBeLessThanOrEqual(
      1,
    );
  }

  it("gives the same logits and values", () => {
    expectClose("logits", webgpu.logits, wasm.logits, 1e-4, 1e-4);
    expectClose("values", webgpu.values, wasm.values, 1e-4, 1e-4);
  });

  it("gives the same loss and gradients for every parameter", () => {
    expectClose("loss", [webgpu.loss], [wasm.loss], 1e-5, 1e-5);
    expect([...webgpu.grads.keys()].sort()).toEqual([...wasm.grads.keys()].sort());
    expect(wasm.grads.size).toBeGreaterThan(10);
    for (const [name, g] of wasm.grads) {
      expectClose("gradients", webgpu.grads.get(name) as Float32Array, g, 1e-4, 1e-3);
    }
  });

  it("generates the same tokens with the key/value cache, and the cache changes nothing", () => {
    expect(webgpu.cachedTokens).toEqual(wasm.cachedTokens);
    expect(webgpu.uncachedTokens).toEqual(webgpu.cachedTokens);
    expectClose("generation logprobs", webgpu.cachedLogProbs.flat(), wasm.cachedLogProbs.flat(), 1e-4, 1e-4);
  });

  it("takes the same AdamW steps", () => {
    expectClose("losses over 3 steps", webgpu.stepLosses, wasm.stepLosses, 1e-4, 1e-4);
    expect(webgpu.stepLosses[2]).toBeLessThan(webgpu.stepLosses[0] as number);
    expectClose("weights after 3 steps", webgpu.weightsAfter, wasm.weightsAfter, 1e-4, 1e-3);
  });
});

describe.skipIf(skip)(
  `what the wasm path works around, on webgpu${skip ? ` (skipped: ${skip})` : ""}`,
  () => {
    beforeAll(async () => {
      expect((await initBackend("webgpu")).name).toBe("webgpu");
    });

    function randn(shape: number[], seed: number): tf.Tensor {
      return tf.tensor(
        normalSamples(
          shape.reduce((a, b) => a * b, 1),
          1,
          mulberry32(seed),
        ),
        shape,
      );
    }

    it("has the kernels tfjs's own gradients need (UnsortedSegmentSum for tf.gather), unlike wasm", async () => {
      expect(tf.getKernel("UnsortedSegmentSum", "webgpu")).toBeDefined();
      expect(tf.getKernel("UnsortedSegmentSum", "wasm")).toBeUndefined();
      const table = randn([7, 3], 1);
      const ids = tf.tensor1d([1, 4, 4, 0], "int32");
      const dy = randn([4, 3], 2);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), dy)))(table);
      const expected = new Float32Array(21);
      const dyv = await dy.data();
      [1, 4, 4, 0].forEach((row, i) => {
        for (let j = 0; j < 3; j++)
          expected[row * 3 + j] = (expected[row * 3 + j] as number) + (dyv[i * 3 + j] as number);
      });
      expect(worstRatio(await g.data(), expected, 1e-6, 1e-6).ratio).toBeLessThanOrEqual(1);
      tf.dispose([table, ids, dy, g]);
    });

    it("computes transposed products (tfjs's own matMul gradient) like explicit transposes", async () => {
      const a = randn([3, 6, 5], 3);
      const b = randn([3, 4, 6], 4);
      const fused = tf.matMul(a, b, true, true);
      const explicit = tf.matMul(tf.transpose(a, [0, 2, 1]), tf.transpose(b, [0, 2, 1]));
      expect(worstRatio(await fused.data(), await explicit.data(), 1e-5, 1e-5).ratio).toBeLessThanOrEqual(1);
      tf.dispose([a, b, fused, explicit]);
    });

    it("reads GPU data synchronously (dataSync), as the trainers do, with the same values as await data()", async () => {
      const a = randn([40, 40], 5);
      const product = tf.matMul(a, a);
      const again = tf.matMul(a, a);
      const pending = tf.matMul(product, a);
      const pendingRead = pending.data(); // a read in flight does not stop a synchronous one
      const sync = product.dataSync();
      expect(sync.length).toBe(1600);
      expect(Array.from(sync)).toEqual(Array.from(await again.data()));
      expect((await pendingRead).length).toBe(1600);
      tf.dispose([a, product, again, pending]);
    });

    it("sums more tensors at once (tf.addN) than a shader can bind, as the global gradient norm does", async () => {
      const parts = Array.from({ length: 23 }, (_, i) => randn([5, 3], 10 + i));
      const expected = new Float32Array(15);
      for (const p of parts) {
        const v = await p.data();
        for (let j = 0; j < 15; j++) expected[j] = (expected[j] as number) + (v[j] as number);
      }
      const before = tf.memory().numTensors;
      const total = tf.addN(parts);
      expect(worstRatio(await total.data(), expected, 1e-5, 1e-5).ratio).toBeLessThanOrEqual(1);
      expect(tf.memory().numTensors).toBe(before + 1);
      tf.dispose([total, ...parts]);
    });
  },
);

describe.skipIf(skip)(`webgpu memory across training steps${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("keeps tensors and GPU buffers level across steps", async () => {
    expect((await initBackend("webgpu")).name).toBe("webgpu");
    expect(backendInfo()?.name).toBe("webgpu");
    const model = new GPT(config, { seed: 3 });
    const optimizer = new AdamW(model.params, { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1 });
    const idsT = tf.tensor2d(ids, [2, 6], "int32");
    const targetsT = tf.tensor2d(targets, [2, 6], "int32");
    const trainable = [...model.params.values()];
    const step = async () => {
      const { value, grads } = tf.variableGrads(
        () => maskedCrossEntropy(model.forward(idsT).logits as tf.Tensor, targetsT),
        trainable,
      );
      const named = new Map<string, tf.Tensor>();
      for (const [name, p] of model.params) if (grads[p.name]) named.set(name, grads[p.name] as tf.Tensor);
      optimizer.apply(named, 1e-2);
      const loss = (await value.data())[0] as number;
      tf.dispose([value, ...Object.values(grads)]);
      return loss;
    };
    await step();
    await step(); // the buffer pool settles once every size has been seen twice
    const before = tf.memory() as tf.MemoryInfo & { numBytesInGPU: number; numBytesAllocatedInGPU: number };
    for (let i = 0; i < 3; i++) await step();
    const after = tf.memory() as typeof before;
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytesInGPU).toBe(before.numBytesInGPU);
    // Buffers go back to tfjs's pool and are reused: the pool does not grow either.
    expect(after.numBytesAllocatedInGPU).toBeLessThanOrEqual(before.numBytesAllocatedInGPU);
    optimizer.dispose();
    model.dispose();
    tf.dispose([idsT, targetsT]);
  });
});
