/**
 * Every trainer for a few steps on webgpu, beside the same run on wasm: the run succeeds, its loss curve
 * matches wasm's within float tolerance (pretraining, SFT, reward model and DPO train on fixed data; PPO's,
 * GRPO's and RLOO's rollouts sample, so there only their first update is compared), no tensor outlives the run, and the GPU
 * buffers in use come back to where they were. Small shapes: on SwiftShader every kernel runs on the CPU.
 */
import type { JobKind } from "@rlhf/core/configs";
import { DEMO_DATASETS } from "@rlhf/core/demo";
import { runLogs, runs } from "@rlhf/core/schema";
import type { TestDatabase } from "@rlhf/core/testing";
import * as tf from "@tensorflow/tfjs";
import { eq } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { executeRun } from "../src/jobs/execute";
import { preferenceTestSetup } from "./fixtures/preferences";
import { webgpuSkipReason, worstRatio } from "./fixtures/webgpu";

const skip = await webgpuSkipReason();

let t: TestDatabase;
const { sftDir, series } = preferenceTestSetup(
  { home: "rlhf-webgpu-", tasks: 4, evalEvery: 4, seeds: { sentences: 5, tasks: 3 } },
  (ready) => {
    t = ready.t;
  },
);

const tinyModel = { preset: "tiny", nLayer: 1, nEmbd: 32, nHead: 2, nPositions: 128 };
/** GRPO and RLOO: one round of 2 prompts × 2 completions, one update (as PPO's below). */
const groupConfig = {
  policy: sftDir,
  rewards: [{ function: "contains", params: { text: "e", perOccurrence: true } }],
  iterations: 2,
  promptsPerIteration: 2,
  numGenerations: 2,
  maxCompletionLength: 4,
  numIterations: 1,
  miniBatches: 1,
  temperature: 1,
  learningRate: 1e-2,
  sampleEvery: 100,
  checkpointEvery: 100,
};
const configs: Record<
  "pretrain" | "sft" | "reward" | "dpo" | "ppo" | "grpo" | "rloo",
  Record<string, unknown>
> = {
  pretrain: {
    model: tinyModel,
    tokenizer: { vocabSize: 280 },
    maxSteps: 3,
    batchSize: 2,
    blockSize: 16,
    evalEvery: 100,
    checkpointEvery: 100,
    warmupSteps: 1,
    learningRate: 3e-3,
    samplePrompts: [],
  },
  sft: {
    // The pretraining test's wasm run (it runs first): a context long enough for the demo's held-out pairs.
    init: "run:pretrain-wasm",
    maxSteps: 3,
    batchSize: 2,
    maxLength: 128,
    evalFraction: 0.25,
    evalEvery: 100,
    evalBatches: 1,
    checkpointEvery: 100,
    samplePrompts: [],
  },
  reward: {
    init: sftDir,
    datasets: [DEMO_DATASETS.preferences],
    epochs: 1,
    batchSize: 6,
    maxLength: 64,
    learningRate: 3e-3,
    warmupSteps: 1,
    weightDecay: 0,
    evalFraction: 0.25,
    evalEvery: 100,
    evalBatches: 1,
    checkpointEvery: 100,
    normalizeSamples: 0,
  },
  dpo: {
    policy: sftDir,
    datasets: [DEMO_DATASETS.preferences],
    epochs: 1,
    batchSize: 6,
    maxLength: 64,
    learningRate: 2e-3,
    warmupSteps: 1,
    weightDecay: 0,
    beta: 0.1,
    evalEvery: 100,
    evalBatches: 1,
    checkpointEvery: 100,
  },
  ppo: {
    policy: sftDir,
    rewardFunction: "contains:e",
    iterations: 2,
    rolloutBatchSize: 4,
    miniBatches: 1,
    ppoEpochs: 1,
    responseLength: 4,
    temperature: 1,
    learningRate: 1e-2,
    klCoef: 0.01,
    missingEosPenalty: 0,
    sampleEvery: 100,
    checkpointEvery: 100,
  },
  grpo: groupConfig,
  rloo: groupConfig,
};

/** Run `kind` on `backend` to the end; its loss series and what it left in memory. */
async function runOn(kind: keyof typeof configs, backend: "wasm" | "webgpu") {
  await initBackend(backend);
  const before = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
  const [run] = await t.db
    .insert(runs)
    .values({ name: `${kind}-${backend}`, kind: kind as JobKind, config: { ...configs[kind], backend } })
    .returning();
  const result = await executeRun(t, run!.id);
  expect(result.error).toBeUndefined();
  expect(result.status).toBe("succeeded");
  const after = tf.memory() as typeof before;
  const [row] = await t.db.select().from(runs).where(eq(runs.id, run!.id));
  const losses = (await series(run!.id, kind === "ppo" ? "loss/policy_avg" : "loss")).map((p) => p.value);
  // The global gradient norm sums every parameter's square with tf.addN (see patchWebgpuKernels).
  const gradNorms = (await series(run!.id, "grad_norm")).map((p) => p.value);
  return { before, after, losses, gradNorms, row: row! };
}

const measured: Record<string, number> = {};
afterAll(() => {
  if (Object.keys(measured).length > 0) console.info("webgpu vs wasm, largest |loss difference|:", measured);
});

describe.skipIf(skip)(`every trainer on webgpu${skip ? ` (skipped: ${skip})` : ""}`, () => {
  for (const kind of ["pretrain", "sft", "reward", "dpo", "ppo", "grpo", "rloo"] as const) {
    it(`${kind}: matches wasm, leaks no tensors and no GPU buffers, records the adapter`, async () => {
      const wasm = await runOn(kind, "wasm");
      const gpu = await runOn(kind, "webgpu");
      expect(gpu.row.backend).toBe("webgpu");
      expect(gpu.row.device).toMatch(/gpu \(webgpu\): .+/);
      expect(gpu.after.numTensors).toBe(gpu.before.numTensors);
      expect(gpu.after.numBytesInGPU).toBe(gpu.before.numBytesInGPU);
      expect(gpu.losses.length).toBe(wasm.losses.length);
      expect(gpu.losses.length).toBeGreaterThan(0);
      // PPO, GRPO and RLOO sample their rollouts: a last-digit difference in a probability can pick another
      // token, so only the first update (same rollout as long as the samples agree) is held to wasm's numbers.
      const online = kind === "ppo" || kind === "grpo" || kind === "rloo";
      const compared = online ? 1 : gpu.losses.length;
      const { ratio, maxAbs } = worstRatio(
        gpu.losses.slice(0, compared),
        wasm.losses.slice(0, compared),
        1e-4,
        1e-3,
      );
      measured[kind] = maxAbs;
      expect(ratio, `${kind} losses ${gpu.losses} vs wasm ${wasm.losses}`).toBeLessThanOrEqual(1);
      for (const loss of gpu.losses) expect(Number.isFinite(loss)).toBe(true);
      if (!online) {
        expect(gpu.gradNorms.length).toBe(wasm.gradNorms.length);
        const norms = worstRatio(gpu.gradNorms, wasm.gradNorms, 1e-4, 1e-3);
        expect(
          norms.ratio,
          `${kind} grad_norm ${gpu.gradNorms} vs wasm ${wasm.gradNorms}`,
        ).toBeLessThanOrEqual(1);
      }
    });
  }

  it("workers > 1 on webgpu: the main thread computes, and the log says the workers were ignored once", async () => {
    await initBackend("webgpu");
    const before = tf.memory().numTensors;
    const [run] = await t.db
      .insert(runs)
      .values({
        name: "pretrain-webgpu-workers",
        kind: "pretrain",
        config: { ...configs.pretrain, maxSteps: 1, workers: 2, backend: "webgpu" },
      })
      .returning();
    const result = await executeRun(t, run!.id);
    expect(result.error).toBeUndefined();
    expect(result.status).toBe("succeeded");
    expect(tf.memory().numTensors).toBe(before);
    const logs = await t.db.select().from(runLogs).where(eq(runLogs.runId, run!.id));
    const ignored = logs.filter((l) => l.message.startsWith("workers: 2 ignored on webgpu"));
    expect(ignored.map((l) => l.level)).toEqual(["warn"]);
    expect(logs.some((l) => l.message.startsWith("data parallel:"))).toBe(false);
    const losses = (await series(run!.id, "loss")).map((p) => p.value);
    expect(losses).toHaveLength(1);
    expect(Number.isFinite(losses[0])).toBe(true);
  });
});
