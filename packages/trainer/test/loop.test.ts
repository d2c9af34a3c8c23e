/**
 * The one training loop (train/loop.ts) on its own: gradient accumulation over micro-batches equals one
 * step on the larger batch, the schedule every trainer shares, and no tensors leak across steps.
 */
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { OptimConfig } from "@rlhf/core/configs";
import type { RunTelemetry } from "@rlhf/core/telemetry";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import type { LmBatch } from "../src/data";
import type { JobContext } from "../src/train/context";
import { GPT, gptConfig, mulberry32 } from "../src/model";
import { trainBpe } from "../src/tokenizer";
import { lossAndGradients } from "../src/train/lm-loop";
import { runTrainingLoop } from "../src/train/loop";
import { learningRateAt, linearLearningRate } from "../src/train/schedule";

beforeAll(async () => {
  await initBackend("wasm");
});

const tokenizer = trainBpe(["the loop is one loop", "every trainer runs it"], { vocabSize: 270 });
const config = gptConfig("tiny", { nLayer: 1, nEmbd: 16, nHead: 2, nPositions: 16, vocabSize: 270 });

/** Eight rows of random tokens, every position counted: a mean over rows is a mean over tokens. */
function rows(seed: number, count: number, length: number): { x: number[]; y: number[] }[] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, () => {
    const ids = Array.from({ length: length + 1 }, () => Math.floor(random() * 270));
    return { x: ids.slice(0, -1), y: ids.slice(1) };
  });
}

function batchOf(items: { x: number[]; y: number[] }[]): LmBatch {
  const length = items[0]!.x.length;
  return {
    x: Int32Array.from(items.flatMap((r) => r.x)),
    y: Int32Array.from(items.flatMap((r) => r.y)),
    batchSize: items.length,
    length,
    tokens: items.length * length,
  };
}

/** A job context that keeps what the loop reports in memory (the loop's own contract, no database). */
function recordingContext() {
  const metrics: { step: number; values: Record<string, number> }[] = [];
  const saved: { step: number; isFinal: boolean }[] = [];
  const ctx = {
    runId: "loop-test",
    runDir: mkdtempSync(path.join(os.tmpdir(), "rlhf-loop-")),
    backend: { name: "wasm" },
    signal: new AbortController().signal,
    telemetry: {
      metrics: (step: number, values: Record<string, number>) => metrics.push({ step, values }),
      sample: () => {},
    } as unknown as RunTelemetry,
    progress: async () => {},
    checkpoint: async (step: number, _dir: string, o?: { isFinal?: boolean }) => {
      saved.push({ step, isFinal: o?.isFinal ?? false });
    },
    resolveCheckpoint: async (ref: string) => ref,
    log: () => {},
  } as unknown as JobContext;
  return { ctx, metrics, saved };
}

const optim = (gradAccumSteps: number): OptimConfig => ({
  learningRate: 1e-2,
  minLearningRate: 1e-3,
  warmupSteps: 1,
  weightDecay: 0.1,
  beta1: 0.9,
  beta2: 0.95,
  epsilon: 1e-8,
  gradClip: 1,
  gradAccumSteps,
});

async function train(gradAccumSteps: number, steps: number) {
  const model = new GPT(config, { seed: 7 });
  const { ctx, metrics, saved } = recordingContext();
  const perMicro = 8 / gradAccumSteps;
  const result = await runTrainingLoop<null>({
    kind: "test",
    ctx,
    model,
    tokenizer,
    optim: optim(gradAccumSteps),
    totalSteps: steps,
    startStep: 0,
    plan: (step) => ({
      updates: 1,
      microStep: (_update, micro) => {
        const batch = batchOf(rows(step, 8, 12).slice(micro * perMicro, (micro + 1) * perMicro));
        return { ...lossAndGradients(model, batch), tokens: batch.tokens, stats: null };
      },
    }),
    metrics: ({ losses }) => ({ loss: losses[0]! }),
    checkpointEvery: 1000,
  });
  const weights = new Map([...model.params].map(([name, v]) => [name, Array.from(v.dataSync())]));
  model.dispose();
  return { result, weights, metrics, saved };
}

describe("the training loop", () => {
  it("accumulating 4 micro-batches of 2 rows equals one step on the 8 rows (weights, loss, gradient norm)", async () => {
    const whole = await train(1, 3);
    const accumulated = await train(4, 3);
    expect(accumulated.result.steps).toBe(3);
    for (const [i, point] of whole.metrics.entries()) {
      const other = accumulated.metrics[i]!;
      expect(other.step).toBe(point.step);
      expect(other.values.loss).toBeCloseTo(point.values.loss!, 5);
      expect(other.values.grad_norm).toBeCloseTo(point.values.grad_norm!, 4);
      expect(other.values.lr).toBe(point.values.lr);
    }
    let maxDiff = 0;
    for (const [name, w] of whole.weights) {
      const other = accumulated.weights.get(name)!;
      for (let j = 0; j < w.length; j++) maxDiff = Math.max(maxDiff, Math.abs(w[j]! - other[j]!));
    }
    expect(maxDiff).toBeLessThan(1e-5);
    // And the weights did move: the comparison is not between two untouched models.
    const initial = new GPT(config, { seed: 7 });
    const moved = Math.max(
      ...[...initial.params].map(([name, v]) => {
        const a = v.dataSync();
        const b = whole.weights.get(name)!;
        return Math.max(...Array.from(a, (x, j) => Math.abs(x - b[j]!)));
      }),
    );
    initial.dispose();
    expect(moved).toBeGreaterThan(1e-3);
    expect(whole.saved).toEqual([{ step: 3, isFinal: true }]);
  });

  it("leaks no tensors across steps", async () => {
    await train(2, 1); // warm-up: kernels and their one-off tensors
    const before = tf.memory().numTensors;
    await train(2, 3);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("warms up, then anneals linearly or by cosine; without warm-up the linear shape is PPO's", () => {
    const o = { peak: 1, min: 0.1, warmupSteps: 2, totalSteps: 10 };
    expect(learningRateAt(0, { ...o, shape: "linear" })).toBeCloseTo(0.5);
    expect(learningRateAt(1, { ...o, shape: "linear" })).toBeCloseTo(1);
    expect(learningRateAt(2, { ...o, shape: "linear" })).toBeCloseTo(1);
    expect(learningRateAt(6, { ...o, shape: "linear" })).toBeCloseTo(0.55);
    expect(learningRateAt(10, { ...o, shape: "linear" })).toBeCloseTo(0.1);
    expect(learningRateAt(6, { ...o, shape: "cosine" })).toBeCloseTo(0.55);
    for (let step = 0; step < 12; step++) {
      expect(learningRateAt(step, { ...o, warmupSteps: 0, shape: "linear" })).toBe(
        linearLearningRate(step, { peak: 1, min: 0.1, totalSteps: 10 }),
      );
    }
  });
});
