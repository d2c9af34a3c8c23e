/**
 * The native products and transposes (src/native-kernels.ts) against the wasm backend's own kernels in the
 * same process: each kernel on awkward shapes, then the GPT's forward pass, gradients (full and LoRA) and
 * cached generation with the native kernels on and off. Equal up to float summation order.
 * Skipped, saying why, where the addon cannot be built (no g++ or no Node headers): the backend then runs
 * without it, which every other test file covers.
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import {
  GPT,
  gelu,
  generate,
  gptConfig,
  layerNorm,
  maskedCrossEntropy,
  mulberry32,
  normalSamples,
} from "../src/model";
import { addLora } from "../src/model/lora";
import { asGroupSwap, nativeKernelsStatus, setNativeKernels } from "../src/native-kernels";

let available = false;
beforeAll(async () => {
  expect((await initBackend("wasm")).name).toBe("wasm");
  available = setNativeKernels(true).active;
  if (!available) console.warn(`native kernels unavailable: ${nativeKernelsStatus().reason}`);
});
afterAll(() => {
  setNativeKernels(true);
});

let seed = 1;
function randn(shape: number[]): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(normalSamples(size, 1, mulberry32(seed++)), shape);
}

/** f's outputs with the native kernels and with the wasm ones (the native kernels are left on). */
function bothWays(f: () => tf.Tensor[]): { native: Float32Array[]; wasm: Float32Array[] } {
  const run = () => {
    const out = tf.tidy(f);
    const values = out.map((t) => Float32Array.from(t.dataSync() as Float32Array));
    tf.dispose(out);
    return values;
  };
  setNativeKernels(true);
  run(); // warm-up: a model's first forward pass caches its LM head's transpose
  const before = tf.memory().numTensors;
  const native = run();
  setNativeKernels(false);
  const wasm = run();
  setNativeKernels(true);
  expect(tf.memory().numTensors).toBe(before);
  return { native, wasm };
}

function expectClose(actual: Float32Array, expected: Float32Array, tol: number, what = ""): void {
  expect(actual.length).toBe(expected.length);
  let scale = 0;
  for (const e of expected) scale = Math.max(scale, Math.abs(e));
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)));
  }
  expect(worst, what).toBeLessThanOrEqual(tol * Math.max(scale, 1));
}

describe("native kernels", () => {
  it("asGroupSwap reads the permutations attention uses, and refuses the others", () => {
    expect(asGroupSwap([3, 5], [1, 0])).toEqual({ outer: 1, rows: 3, cols: 5, inner: 1 });
    expect(asGroupSwap([2, 3, 5], [0, 2, 1])).toEqual({ outer: 2, rows: 3, cols: 5, inner: 1 });
    expect(asGroupSwap([2, 3, 4, 5], [2, 0, 1, 3])).toEqual({ outer: 1, rows: 6, cols: 4, inner: 5 });
    expect(asGroupSwap([2, 3, 4, 5], [1, 2, 0, 3])).toEqual({ outer: 1, rows: 2, cols: 12, inner: 5 });
    expect(asGroupSwap([2, 3, 4], [2, 1, 0])).toBeUndefined();
    expect(asGroupSwap([2, 3, 4], [0, 1, 2])).toBeUndefined();
  });

  it("products equal the wasm kernels' on awkward shapes, transposes, broadcasting and a fused bias", (ctx) => {
    if (!available) ctx.skip();
    const cases: { a: number[]; b: number[]; ta?: boolean; tb?: boolean; bias?: boolean }[] = [
      { a: [1, 1], b: [1, 1] },
      { a: [7, 5], b: [5, 33] },
      { a: [130, 257], b: [257, 70] },
      { a: [300, 7], b: [300, 40], ta: true },
      { a: [13, 40], b: [29, 40], tb: true },
      { a: [40, 13], b: [29, 40], ta: true, tb: true },
      { a: [5, 19, 8], b: [5, 8, 21] },
      { a: [5, 8, 19], b: [5, 21, 8], ta: true, tb: true },
      { a: [2, 3, 19, 8], b: [2, 3, 8, 11] },
      { a: [4, 19, 8], b: [8, 11] },
      { a: [19, 8], b: [4, 8, 11] },
      { a: [67, 33], b: [33, 65], bias: true },
      { a: [3, 17, 33], b: [33, 65], bias: true, tb: false },
      { a: [17, 0], b: [0, 9] },
      { a: [70, 4100], b: [4100, 3] },
      { a: [3, 9], b: [9, 4133] },
    ];
    for (const { a, b, ta = false, tb = false, bias } of cases) {
      const x = randn(a);
      const w = randn(b); // as passed: [..., n, k] with tb
      const n = b[b.length - (tb ? 2 : 1)] as number;
      const bv = randn([n]);
      // The reference for a fused product is the unfused one: the stock wasm _FusedMatMul gets a batched
      // left operand times an unbatched right one wrong (tfjs 4.22; the model never asks for that).
      const { native, wasm } = bothWays(() => [
        bias
          ? tf.fused.matMul({ a: x, b: w, transposeA: ta, transposeB: tb, bias: bv })
          : tf.matMul(x, w, ta, tb),
        bias ? tf.add(tf.matMul(x, w, ta, tb), bv) : tf.matMul(x, w, ta, tb),
      ]);
      expectClose(native[0] as Float32Array, wasm[1] as Float32Array, 1e-5, JSON.stringify({ a, b, ta, tb }));
      tf.dispose([x, w, bv]);
    }
  });

  it("transposes equal the wasm kernel's, float32 and int32, and other permutations still work", (ctx) => {
    if (!available) ctx.skip();
    const cases: { shape: number[]; perm: number[] }[] = [
      { shape: [37, 70], perm: [1, 0] },
      { shape: [3, 33, 65], perm: [0, 2, 1] },
      { shape: [2, 5, 6, 7], perm: [2, 0, 1, 3] },
      { shape: [6, 2, 5, 7], perm: [1, 2, 0, 3] },
      { shape: [2, 3, 4], perm: [2, 1, 0] },
    ];
    for (const { shape, perm } of cases) {
      const x = randn(shape);
      const { native, wasm } = bothWays(() => [
        tf.transpose(x, perm),
        tf.transpose(tf.cast(tf.mul(x, 100), "int32"), perm),
      ]);
      expect(native).toEqual(wasm);
      x.dispose();
    }
  });

  it("GELU's one-pass kernels equal the element-wise formula, value and gradient, large inputs too", (ctx) => {
    if (!available) ctx.skip();
    const x = tf.concat([
      tf.mul(randn([3, 7, 37]), 3).reshape([-1]),
      tf.tensor1d([0, -1e-3, 20, -20, 100, -100, 1e4]),
    ]);
    const dy = randn(x.shape);
    const { native, wasm } = bothWays(() => {
      const { value, grads } = tf.valueAndGrads((t: tf.Tensor) => tf.sum(tf.mul(gelu(t), dy)))([x]);
      return [gelu(x), value, grads[0] as tf.Tensor];
    });
    native.forEach((t, i) => {
      const expected = wasm[i] as Float32Array;
      t.forEach((a, j) => {
        const e = expected[j] as number;
        expect(Math.abs(a - e), `gelu output ${i}[${j}]: ${a} vs ${e}`).toBeLessThanOrEqual(
          1e-6 + 1e-5 * Math.abs(e),
        );
      });
    });
    tf.dispose([x, dy]);
  });

  it("layer norm's one-kernel forward and backward equal the element-wise formula", (ctx) => {
    if (!available) ctx.skip();
    const x = tf.add(tf.mul(randn([2, 9, 67]), 5), 3); // a large mean, as residual streams have
    const gamma = randn([67]);
    const beta = randn([67]);
    const dy = randn(x.shape);
    const { native, wasm } = bothWays(() => {
      const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(layerNorm(a, g as tf.Tensor1D, b as tf.Tensor1D), dy));
      const { value, grads } = tf.valueAndGrads(f as (...t: tf.Tensor[]) => tf.Scalar)([x, gamma, beta]);
      return [layerNorm(x, gamma as tf.Tensor1D, beta as tf.Tensor1D), value, ...grads];
    });
    expect(native.length).toBe(5);
    native.forEach((t, i) => {
      expectClose(t, wasm[i] as Float32Array, 1e-5, `layer norm output ${i}`);
    });
    tf.dispose([x, gamma, beta, dy]);
  });

  it("the GPT's forward pass and gradients, full and with LoRA, and cached generation match", async (ctx) => {
    if (!available) ctx.skip();
    const config = gptConfig("tiny", { nLayer: 2, vocabSize: 97 });
    const model = new GPT(config, { seed: 3 });
    const random = mulberry32(9);
    const ids = Array.from({ length: 4 * 24 }, () => Math.floor(random() * config.vocabSize));
    const x = tf.tensor2d(ids, [4, 24], "int32");
    const y = tf.tensor2d([...ids.slice(1), 0], [4, 24], "int32");
    const lossAndGrads = (m: GPT) => () => {
      const { value, grads } = tf.variableGrads(
        () => maskedCrossEntropy(m.forward(x, { returnHidden: false }).logits as tf.Tensor, y),
        m.trainableVariables(),
      );
      return [m.forward(x).logits as tf.Tensor, value, ...Object.values(grads)];
    };
    const full = bothWays(lossAndGrads(model));
    full.native.forEach((t, i) => {
      expectClose(t, full.wasm[i] as Float32Array, 2e-5, `full fine-tuning output ${i}`);
    });

    const prompts = [ids.slice(0, 5), ids.slice(5, 8)];
    const greedy = async () =>
      (await generate(model, prompts, { maxNewTokens: 12, temperature: 0, seed: 0, useCache: true })).tokens;
    const nativeTokens = await greedy();
    setNativeKernels(false);
    const wasmTokens = await greedy();
    setNativeKernels(true);
    expect(nativeTokens).toEqual(wasmTokens);

    const tuned = new GPT(config, { seed: 3 });
    addLora(tuned, { r: 4, alpha: 8, targets: ["c_attn", "c_proj", "c_fc"], dropout: 0 }, { seed: 5 });
    const lora = bothWays(lossAndGrads(tuned));
    expect(lora.native.length).toBeGreaterThan(2);
    lora.native.forEach((t, i) => {
      expectClose(t, lora.wasm[i] as Float32Array, 2e-5, `LoRA output ${i}`);
    });
    tf.dispose([x, y]);
    model.dispose();
    tuned.dispose();
  });
});
