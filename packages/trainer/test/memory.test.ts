/**
 * Memory: a loaded checkpoint's weights are held once (the variables take the decoded tensors' data); the
 * fused LM head (log p(target) without three [N, V] tensors kept for the backward pass) against the unfused
 * ops, values and gradients. wasm backend.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import {
  GPT,
  type GPTConfig,
  lmHeadLogProbs,
  logProbsOf,
  mulberry32,
  normalSamples,
  tiedLinear,
} from "../src/model";

beforeAll(async () => {
  expect((await initBackend("wasm")).name).toBe("wasm");
});

const config: GPTConfig = {
  vocabSize: 50,
  nPositions: 16,
  nEmbd: 16,
  nLayer: 2,
  nHead: 2,
  layerNormEpsilon: 1e-5,
  initializerRange: 0.02,
};

describe("loading weights", () => {
  it("GPT.fromWeights adopts the tensors' data instead of copying it, and checks them as loadWeights does", () => {
    const source = new GPT(config, { seed: 1 });
    const weights = new Map(
      [...source.namedWeights()].map(([name, t]) => [`transformer.${name}`, t.clone()] as const),
    );
    const buffersBefore = tf.memory().numDataBuffers;
    const { model, report } = GPT.fromWeights(config, weights, { rewardHead: true });
    // Only the reward head (absent from the checkpoint) is new memory.
    expect(tf.memory().numDataBuffers - buffersBefore).toBe(1);
    expect(report.missingHeads).toEqual(["score.weight"]);
    expect(model.param("h.1.mlp.c_fc.weight").dataId).toBe(
      weights.get("transformer.h.1.mlp.c_fc.weight")?.dataId,
    );
    for (const t of weights.values()) t.dispose();
    // The variables keep the data alive after the caller's tensors are gone.
    const a = model.param("wte.weight").dataSync();
    const b = source.param("wte.weight").dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    const broken = new Map([["wte.weight", tf.zeros([3, 3])]]);
    expect(() => GPT.fromWeights(config, broken)).toThrow(
      /wte.weight: expected shape \[50,16\], got \[3,3\]/,
    );
    tf.dispose([...broken.values()]);
    model.dispose();
    source.dispose();
  });
});

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

describe("the fused LM head", () => {
  // 300 rows: two chunks of the fused op (256 + 44).
  const rows = [3, 100];
  const random = mulberry32(11);
  const x = tf.tensor(normalSamples(300 * 8, 1, random), [...rows, 8]);
  const targets = tf.tensor2d(
    Array.from({ length: 300 }, (_, i) => (i * 7) % 37),
    rows as [number, number],
    "int32",
  );
  const tableValues = normalSamples(37 * 8, 0.5, random);

  it("gives logProbsOf(tiedLinear) and its gradients, in two chunks", () => {
    const table = tf.tensor2d(tableValues, [37, 8]);
    const dy = tf.tensor(normalSamples(300, 1, random), rows);
    const fused = (xi: tf.Tensor, ti: tf.Tensor) => lmHeadLogProbs(xi, ti as tf.Tensor2D, targets);
    const plain = (xi: tf.Tensor, ti: tf.Tensor) => logProbsOf(tiedLinear(xi, ti as tf.Tensor2D), targets);
    const a = fused(x, table);
    const b = plain(x, table);
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-4);
    const [dxA, dtA] = tf.grads(fused)([x, table], dy);
    const [dxB, dtB] = tf.grads(plain)([x, table], dy);
    expect(maxAbsDiff(dxA as tf.Tensor, dxB as tf.Tensor)).toBeLessThan(1e-4);
    expect(maxAbsDiff(dtA as tf.Tensor, dtB as tf.Tensor)).toBeLessThan(1e-3);
    tf.dispose([table, dy, a, b, dxA, dtA, dxB, dtB] as tf.Tensor[]);
  });

  it("takes a frozen table as a constant (input gradient only)", () => {
    const frozen = tf.variable(tf.tensor2d(tableValues, [37, 8]), false);
    const live = tf.tensor2d(tableValues, [37, 8]);
    const [dxFrozen] = tf.grads((xi: tf.Tensor) => tf.sum(lmHeadLogProbs(xi, frozen, targets)))([x]);
    const [dxLive] = tf.grads((xi: tf.Tensor) => tf.sum(lmHeadLogProbs(xi, live, targets)))([x]);
    expect(maxAbsDiff(dxFrozen as tf.Tensor, dxLive as tf.Tensor)).toBeLessThan(1e-5);
    tf.dispose([frozen, live, dxFrozen, dxLive] as tf.Tensor[]);
  });

  it("is what GPT.forward returns as logProbs for targets", () => {
    const model = new GPT(config, { seed: 4 });
    const ids = tf.tensor2d([[1, 2, 3, 4, 5, 6]], [1, 6], "int32");
    const next = tf.tensor2d([[2, 3, 4, 5, 6, 7]], [1, 6], "int32");
    const out = model.forward(ids, { targets: next });
    expect(out.logits).toBeUndefined();
    const logits = model.forward(ids).logits as tf.Tensor;
    const expected = logProbsOf(logits, next);
    expect(maxAbsDiff(out.logProbs as tf.Tensor, expected)).toBeLessThan(1e-5);
    expect(() => model.forward(ids, { targets: ids.reshape([6, 1]) })).toThrow(/targets must be \[1, 6\]/);
    tf.dispose([ids, next, logits, expected, ...Object.values(out)] as tf.Tensor[]);
    model.dispose();
  });
});
