/**
 * Memory: a loaded checkpoint's weights are held once (the variables take the decoded tensors' data).
 * wasm backend.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { GPT, type GPTConfig } from "../src/model";

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
