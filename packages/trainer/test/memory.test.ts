/**
 * Memory: a loaded checkpoint's weights are held once (the variables take the decoded tensors' data); the
 * fused LM head (log p(target) without three [N, V] tensors kept for the backward pass) against the unfused
 * ops, values and gradients; AdamW with its moments outside the heap against train/adamw.ts; the memory
 * estimate and the micro-batch plan (GPT-2 small's full fine-tuning at 8 x 128 did not fit the heap as the
 * trainers ran it; it does with the fused head and host moments), and the up-front failure. wasm backend.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import {
  addLora,
  GPT,
  type GPTConfig,
  gptConfig,
  gptParameterShapes,
  lmHeadLogProbs,
  logProbsOf,
  mulberry32,
  normalSamples,
  tiedLinear,
} from "../src/model";
import { HostAdamW } from "../src/parallel/host-adamw";
import {
  estimateTrainingMemory,
  MemoryPlanError,
  memoryInputOf,
  planMicroBatch,
  planModelMicroBatch,
  type TrainingMemoryInput,
  WASM_HEAP_BUDGET,
  WASM_HEAP_LIMIT,
  wasmHeapBytes,
} from "../src/parallel/memory";
import { rewardHeadIsZero } from "../src/rl/reward-model";
import { AdamW } from "../src/train/adamw";

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
    // A head absent from the checkpoint is zero, so the reward trainer initialises it with the run's seed.
    expect(rewardHeadIsZero(model)).toBe(true);
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

describe("AdamW with moments outside the heap", () => {
  it("updates exactly as train/adamw.ts's AdamW (decay on matrices only), and saves and restores its moments", () => {
    const random = mulberry32(21);
    const make = (prefix: string) =>
      new Map<string, tf.Variable>([
        [
          "w",
          tf.tidy(() =>
            tf.variable(tf.tensor(normalSamples(12, 1, mulberry32(1)), [3, 4]), true, `${prefix}/w`),
          ),
        ],
        [
          "b",
          tf.tidy(() => tf.variable(tf.tensor(normalSamples(4, 1, mulberry32(2)), [4]), true, `${prefix}/b`)),
        ],
      ]);
    const options = { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1 };
    const a = make("heap");
    const b = make("host");
    const heap = new AdamW(a, options);
    const host = new HostAdamW(b, options);
    expect(host.stateBytes).toBe(2 * 16 * 4);
    let hostBuffers = 0;
    for (let step = 0; step < 3; step++) {
      const grads = new Map([
        ["w", tf.tensor(normalSamples(12, 1, random), [3, 4])],
        ["b", tf.tensor(normalSamples(4, 1, random), [4])],
      ]);
      heap.apply(grads, 0.01);
      const before = tf.memory().numDataBuffers;
      host.apply(grads, 0.01);
      hostBuffers = Math.max(hostBuffers, tf.memory().numDataBuffers - before);
      tf.dispose([...grads.values()]);
    }
    for (const name of ["w", "b"]) {
      expect(maxAbsDiff(a.get(name) as tf.Tensor, b.get(name) as tf.Tensor), name).toBeLessThan(1e-6);
    }
    expect(hostBuffers).toBe(0); // nothing left behind on the heap
    // Restored moments continue identically.
    const saved = host.stateTensors();
    expect([...saved.keys()].sort()).toEqual(["adam_m.b", "adam_m.w", "adam_v.b", "adam_v.w"]);
    const again = new HostAdamW(b, options);
    again.loadState(new Map([...saved].map(([k, t]) => [k, { ...t, data: t.data.slice() }])), host.step);
    const grads = new Map([["w", tf.ones([3, 4])]]);
    const before = (b.get("w") as tf.Variable).dataSync().slice();
    host.apply(grads, 0.01);
    const viaFirst = (b.get("w") as tf.Variable).dataSync().slice();
    (b.get("w") as tf.Variable).assign(tf.tensor(before, [3, 4]));
    again.apply(grads, 0.01);
    expect(Array.from((b.get("w") as tf.Variable).dataSync())).toEqual(Array.from(viaFirst));
    tf.dispose([...grads.values(), ...a.values(), ...b.values()]);
    heap.dispose();
  });
});

describe("the memory plan", () => {
  const gpt2 = gptConfig("gpt2");
  const total = [...gptParameterShapes(gpt2).values()].reduce((n, s) => n + s.reduce((x, y) => x * y, 1), 0);
  const fullFineTune = (over: Partial<TrainingMemoryInput> = {}): TrainingMemoryInput => ({
    config: gpt2,
    microBatch: 8,
    seqLen: 128,
    totalParams: total,
    trainableParams: total,
    largestTrainable: gpt2.vocabSize * gpt2.nEmbd,
    embeddingTrained: true,
    optimizer: "heap",
    fusedLmHead: false,
    accumulation: 1,
    ...over,
  });

  it("GPT-2 small at 8 x 128: far over the heap as the trainers ran it; micro-batches of 2 fit with host moments and the fused head", () => {
    expect(total).toBe(124_439_808);
    const before = estimateTrainingMemory(fullFineTune());
    expect(before.total).toBeGreaterThan(WASM_HEAP_LIMIT);
    expect(before.optimizer).toBe(8 * total);
    const plan = planMicroBatch(8, (microBatch, accumulation) =>
      estimateTrainingMemory(
        fullFineTune({ microBatch, accumulation, optimizer: "host", fusedLmHead: true }),
      ),
    );
    // Measured (bench/gpt2-small.ts): 2 x 128 peaks at 2.6 GB of heap, 8 x 128 aborts.
    expect([plan.microBatch, plan.accumulation]).toEqual([2, 4]);
    expect(plan.estimate.optimizer).toBe(0);
    expect(plan.estimate.total).toBeLessThan(WASM_HEAP_BUDGET);
  });

  it("splits a batch that does not fit into the largest micro-batch that does, and says so", () => {
    const estimate = (microBatch: number, accumulation: number) =>
      estimateTrainingMemory(fullFineTune({ microBatch, accumulation, seqLen: 512 }));
    // A budget between what micro-batches of 2 and of 4 need.
    const budget = estimate(2, 4).total + 1;
    expect(estimate(4, 2).total).toBeGreaterThan(budget);
    const plan = planMicroBatch(8, estimate, { budget });
    expect([plan.microBatch, plan.accumulation]).toEqual([2, 4]);
    expect(plan.message).toMatch(/a batch of 8 needs ~[\d.]+ GB .* micro-batches of 2 accumulated 4 times/);
    const fits = planMicroBatch(8, (m, acc) =>
      estimateTrainingMemory(
        fullFineTune({ microBatch: m, accumulation: acc, optimizer: "host", fusedLmHead: true }),
      ),
    );
    expect([fits.microBatch, fits.accumulation]).toEqual([2, 4]);
    const whole = planMicroBatch(2, (m, acc) =>
      estimateTrainingMemory(
        fullFineTune({ microBatch: m, accumulation: acc, optimizer: "host", fusedLmHead: true }),
      ),
    );
    expect([whole.microBatch, whole.accumulation, whole.message]).toEqual([2, 1, undefined]);
  });

  it("fails before the first step, with what a micro-batch of 1 needs and what to change", () => {
    const estimate = (microBatch: number, accumulation: number) =>
      estimateTrainingMemory(fullFineTune({ microBatch, accumulation }));
    expect(() => planMicroBatch(8, estimate, { budget: 1024 ** 3 })).toThrow(MemoryPlanError);
    expect(() => planMicroBatch(8, estimate, { budget: 1024 ** 3 })).toThrow(
      /even a micro-batch of 1 needs ~\d\.\d\d GB .* budget is 1\.00 GB .*lora/,
    );
  });

  it("plans a model's batches as the language-model trainers do: split to fit, or refuse before the first step", () => {
    const model = new GPT({ ...config, vocabSize: 50257, nPositions: 256, nEmbd: 16, nLayer: 1, nHead: 2 });
    const plan = planModelMicroBatch(model, 64, 256, {
      optimizer: "heap",
      fusedLmHead: true,
      gradAccumSteps: 1,
    });
    expect(plan.microBatch).toBeLessThan(64);
    expect(plan.microBatch * plan.accumulation).toBe(64);
    expect(plan.message).toMatch(
      /a batch of 64 sequences needs .* micro-batches of \d+ accumulated \d+ times/,
    );
    // With gradAccumSteps > 1 the running sum of gradients is counted too.
    const small = planModelMicroBatch(model, 4, 256, {
      optimizer: "heap",
      fusedLmHead: true,
      gradAccumSteps: 1,
    });
    expect([small.microBatch, small.accumulation]).toEqual([4, 1]);
    expect(() =>
      planModelMicroBatch(model, 4, 256, {
        optimizer: "heap",
        fusedLmHead: true,
        gradAccumSteps: 1,
        budget: 10e6,
      }),
    ).toThrow(MemoryPlanError);
    model.dispose();
  });

  it("plans the reward model's and DPO's batches by element (two sequences a pair), and per worker heap", () => {
    const model = new GPT({ ...config, vocabSize: 50257, nPositions: 256, nEmbd: 16, nLayer: 1, nHead: 2 });
    const plan = (items: number, o: { workers?: number; scoresOnly?: boolean } = {}) =>
      planModelMicroBatch(model, items, 256, {
        optimizer: "heap",
        fusedLmHead: false,
        gradAccumSteps: 1,
        rowsPerItem: 2,
        what: "pairs",
        ...o,
      });
    expect([plan(2).microBatch, plan(2).accumulation]).toEqual([2, 1]);
    const pairs = plan(32);
    expect(pairs.microBatch).toBeLessThan(32);
    expect(pairs.message).toMatch(/a batch of 32 pairs needs .* micro-batches of \d+ accumulated \d+ times/);
    // Two workers each hold half of a micro-batch: twice the micro-batch fits, said per worker.
    const two = plan(32, { workers: 2 });
    expect(two.microBatch).toBeGreaterThan(pairs.microBatch);
    expect(two.message).toMatch(/per worker/);
    // A score head reads no logits: far more fits.
    expect(plan(32, { scoresOnly: true }).microBatch).toBeGreaterThan(pairs.microBatch);
    model.dispose();
  });

  it("reads a model: LoRA trains the adapters only, and its plan is far smaller", () => {
    const model = new GPT(config, { seed: 1 });
    const full = memoryInputOf(model, {
      microBatch: 2,
      seqLen: 8,
      optimizer: "heap",
      fusedLmHead: true,
      accumulation: 1,
    });
    expect(full.trainableParams).toBe(model.numParams());
    expect(full.embeddingTrained).toBe(true);
    addLora(model, { r: 2, alpha: 4, dropout: 0, targets: ["c_attn"] });
    const lora = memoryInputOf(model, {
      microBatch: 2,
      seqLen: 8,
      optimizer: "heap",
      fusedLmHead: true,
      accumulation: 1,
    });
    expect(lora.trainableParams).toBe(model.lora?.numParams());
    expect(lora.embeddingTrained).toBe(false);
    expect(estimateTrainingMemory(lora).total).toBeLessThan(estimateTrainingMemory(full).total);
    model.dispose();
  });
});

describe("a mid-sized model with GPT-2's vocabulary", () => {
  it("trains at 20 x 256 tokens, whose unfused logits path needs more than the 4 GiB heap, within the budget", () => {
    const mid: GPTConfig = { ...config, vocabSize: 50257, nPositions: 256, nEmbd: 16, nLayer: 1, nHead: 2 };
    const [rows, seqLen] = [20, 256];
    const model = new GPT(mid, { seed: 1 });
    const step = { microBatch: rows, seqLen, accumulation: 1 };
    const before = estimateTrainingMemory(
      memoryInputOf(model, { ...step, optimizer: "heap", fusedLmHead: false }),
    );
    expect(before.total).toBeGreaterThan(WASM_HEAP_LIMIT);
    const plan = planMicroBatch(rows, (microBatch, accumulation) =>
      estimateTrainingMemory(
        memoryInputOf(model, { microBatch, seqLen, accumulation, optimizer: "host", fusedLmHead: true }),
      ),
    );
    expect([plan.microBatch, plan.accumulation]).toEqual([rows, 1]);
    // A sequence that repeats every 7 tokens: the next token is learnable from the current one.
    const ids = Int32Array.from({ length: rows * (seqLen + 1) }, (_, i) => 100 + ((i * 5) % 7) * 1000);
    const all = tf.tensor2d(ids, [rows, seqLen + 1], "int32");
    const x = tf.slice(all, [0, 0], [rows, seqLen]);
    const y = tf.slice(all, [0, 1], [rows, seqLen]);
    const optimizer = new HostAdamW(model.trainableParams(), {
      beta1: 0.9,
      beta2: 0.95,
      epsilon: 1e-8,
      weightDecay: 0.1,
    });
    const losses: number[] = [];
    let tensors = 0;
    for (let i = 0; i < 3; i++) {
      const params = model.trainableParams();
      const { value, grads } = tf.variableGrads(() => {
        const { logProbs } = model.forward(x, { targets: y, training: true, returnHidden: false });
        return tf.neg(tf.mean(logProbs as tf.Tensor)) as tf.Scalar;
      }, [...params.values()]);
      losses.push(value.dataSync()[0] as number);
      optimizer.apply(new Map([...params].map(([name, v]) => [name, grads[v.name] as tf.Tensor])), 3e-2);
      tf.dispose([value, ...Object.values(grads)]);
      if (i === 1) tensors = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors).toBe(tensors);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[2] as number).toBeLessThan(losses[0] as number);
    const heap = wasmHeapBytes() as number;
    expect(heap).toBeLessThan(WASM_HEAP_BUDGET);
    expect(heap).toBeLessThan(1.5 * plan.estimate.total);
    tf.dispose([all, x, y]);
    optimizer.dispose();
    model.dispose();
  });
});
