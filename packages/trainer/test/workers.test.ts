/**
 * Data parallelism by default (issue 14) and the automatic micro-batch of the pairwise trainers (issue 19):
 * for pretraining, SFT, the reward model and DPO, two worker threads give the weights one thread gives, up
 * to float reassociation (the same seed and batches, two steps); the workers carry LoRA adapters and the
 * score head; "auto" resolves to the cores, never more than a batch's rows, 1 on webgpu; and a reward or DPO
 * batch that does not fit the wasm heap is split into micro-batches (said in the log) or refused before the
 * first step with what it needs.
 */
import os from "node:os";
import path from "node:path";
import { DEMO_DATASETS } from "@rlhf/core/demo";
import { checkpoints, runLogs, runs } from "@rlhf/core/schema";
import type { TestDatabase } from "@rlhf/core/testing";
import * as tf from "@tensorflow/tfjs";
import { asc, desc, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { loadCheckpoint, saveCheckpoint } from "../src/checkpoint";
import { executeRun } from "../src/jobs/execute";
import { GPT, gptConfig } from "../src/model";
import type { Tokenizer } from "../src/tokenizer";
import { dataParallelWorkers } from "../src/train/loop";
import { preferenceTestSetup, tiny } from "./fixtures/preferences";

let t: TestDatabase;
let tokenizer: Tokenizer;
const { home, sftDir } = preferenceTestSetup(
  { home: "rlhf-workers-", tasks: 12, evalEvery: 6, seeds: { sentences: 5, tasks: 3 } },
  (ready) => {
    t = ready.t;
    tokenizer = ready.tokenizer;
  },
);

/**
 * "SFT" checkpoints with GPT-2's vocabulary (the rows past the tokenizer's unused) and long contexts: a
 * batch of their maxLength-token pairs needs gigabytes of logits, though the data is short.
 */
const wideDir = (positions: number) => path.join(home, `wide-${positions}`);
const sft128Dir = path.join(home, "sft-128");
beforeAll(async () => {
  // SFT's conversations need more than the 64 positions of the preference tests' model.
  const sft = new GPT(gptConfig("tiny", { ...tiny, nPositions: 128, vocabSize: tokenizer.vocabSize }), {
    seed: 3,
  });
  await saveCheckpoint(sft128Dir, sft, tokenizer);
  sft.dispose();
  for (const positions of [1024, 2048, 8192]) {
    const model = new GPT(
      gptConfig("tiny", { nLayer: 1, nEmbd: 16, nHead: 2, nPositions: positions, vocabSize: 50257 }),
      { seed: 2 },
    );
    // Samples must stay in the tokenizer's ids: the final layer norm's bias puts 30 on dimension 0, which
    // the unused rows read as −30 (e^−30 · 50,000 ≈ 0) and the used ones ignore.
    const used = tokenizer.vocabSize;
    tf.tidy(() => {
      const wte = model.param("wte.weight");
      const column0 = tf.concat([tf.zeros([used, 1]), tf.fill([50257 - used, 1], -1)]);
      const rest = tf.concat([tf.slice(wte, [0, 1], [used, 15]), tf.zeros([50257 - used, 15])]);
      wte.assign(tf.concat([column0, rest], 1));
      model.param("ln_f.weight").assign(tf.fill([16], 0.1));
      model.param("ln_f.bias").assign(
        tf
          .oneHot(tf.tensor1d([0], "int32"), 16)
          .reshape([16])
          .mul(30),
      );
    });
    await saveCheckpoint(wideDir(positions), model, tokenizer);
    model.dispose();
  }
});

const common = { backend: "wasm", seed: 7, warmupSteps: 0, evalEvery: 100, checkpointEvery: 100 };
const configs = {
  pretrain: {
    ...common,
    model: { preset: "tiny", ...tiny },
    tokenizer: { vocabSize: 280 },
    maxSteps: 2,
    batchSize: 5,
    blockSize: 24,
    evalBatches: 1,
    samplePrompts: [],
    learningRate: 1e-3,
  },
  sft: {
    ...common,
    init: sft128Dir,
    maxSteps: 2,
    batchSize: 5,
    maxLength: 127,
    evalBatches: 1,
    samplePrompts: [],
    learningRate: 1e-3,
  },
  reward: {
    ...common,
    init: sftDir,
    datasets: [DEMO_DATASETS.preferences],
    batchSize: 5,
    maxLength: 64,
    evalBatches: 1,
    normalizeSamples: 0,
    centerRewardsCoefficient: 0.01,
    learningRate: 1e-3,
  },
  dpo: {
    ...common,
    policy: sftDir,
    datasets: [DEMO_DATASETS.preferences],
    batchSize: 5,
    maxLength: 64,
    evalBatches: 1,
    learningRate: 1e-3,
  },
} as const;

type Kind = keyof typeof configs;

/** Run `kind` with `extra`; its log lines, final weights (adapters included) and logged losses. */
async function train(kind: Kind, extra: Record<string, unknown>) {
  const config = { ...configs[kind], ...extra };
  const [run] = await t.db
    .insert(runs)
    .values({ name: `${kind}-${Math.random()}`, kind, config })
    .returning();
  const result = await executeRun(t, run!.id);
  expect(result.error).toBeUndefined();
  const logs = await t.db
    .select({ message: runLogs.message })
    .from(runLogs)
    .where(eq(runLogs.runId, run!.id))
    .orderBy(asc(runLogs.id));
  const [final] = await t.db
    .select()
    .from(checkpoints)
    .where(eq(checkpoints.runId, run!.id))
    .orderBy(desc(checkpoints.step))
    .limit(1);
  expect(final!.isFinal).toBe(true);
  const loaded = await loadCheckpoint(final!.path, kind === "reward" ? { rewardHead: true } : {});
  const variables = new Map([...loaded.model.params, ...(loaded.model.lora?.namedVariables() ?? [])]);
  const weights = new Map([...variables].map(([name, v]) => [name, v.dataSync().slice() as Float32Array]));
  loaded.model.dispose();
  return { logs: logs.map((l) => l.message), weights, summary: result.summary! };
}

/** The largest |a − b| over every weight and the share of weights that differ by more than 1e-5. */
function difference(a: Map<string, Float32Array>, b: Map<string, Float32Array>) {
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  let worst = 0;
  let far = 0;
  let count = 0;
  for (const [name, x] of a) {
    const y = b.get(name)!;
    for (let i = 0; i < x.length; i++) {
      const d = Math.abs(x[i]! - y[i]!);
      worst = Math.max(worst, d);
      if (d > 1e-5) far += 1;
    }
    count += x.length;
  }
  return { worst, far: far / count };
}

/** Two steps of each trainer: reward 10 rankings, DPO 30 pairs a pass; batches of 5 split 3 + 2. */
const twoSteps: Record<Kind, Record<string, unknown>> = {
  pretrain: {},
  sft: {},
  reward: {},
  dpo: { gradAccumSteps: 3 },
};

describe("workers: 2 trains as workers: 1 does", () => {
  // Two AdamW steps at lr 1e-3 move a weight by up to ~2e-3. Reassociated float sums change an update by far
  // less, but an element whose first gradient is ~0 may take its sign from the rounding (Adam's first step
  // is lr·sign(g)): a few such elements are tolerated, up to 2 lr. The second step's loss shows the first
  // update was the same.
  for (const kind of ["pretrain", "sft", "reward", "dpo"] as const) {
    it(`${kind}: the same weights and losses after two steps, the worker count in the log`, async () => {
      const one = await train(kind, { workers: 1, ...twoSteps[kind] });
      const two = await train(kind, { workers: 2, ...twoSteps[kind] });
      expect(one.logs).toContain("data parallel: off, this thread computes on wasm (workers: 1)");
      expect(two.logs).toContain("data parallel: 2 worker threads on wasm (workers: 2)");
      expect(Number(two.summary.steps)).toBe(2);
      expect(Number(two.summary.loss)).toBeCloseTo(Number(one.summary.loss), 5);
      const { worst, far } = difference(one.weights, two.weights);
      expect(worst).toBeLessThan(2e-3);
      expect(far).toBeLessThan(1e-3);
    });
  }
});

describe("workers with LoRA", () => {
  it("the reward model's adapters and score head train in the workers as on one thread", async () => {
    const lora = { r: 4, alpha: 8, dropout: 0, targets: ["c_attn", "c_fc"] };
    const one = await train("reward", { workers: 1, lora, ...twoSteps.reward });
    const two = await train("reward", { workers: 2, lora, ...twoSteps.reward });
    expect([...two.weights.keys()].some((name) => name.includes("lora_B"))).toBe(true);
    expect(Number(two.summary.loss)).toBeCloseTo(Number(one.summary.loss), 5);
    const { worst, far } = difference(one.weights, two.weights);
    expect(worst).toBeLessThan(2e-3);
    expect(far).toBeLessThan(1e-3);
  });
});

describe("workers: auto", () => {
  it("is one thread per core on wasm and cpu, 1 on tensorflow and webgpu, never more than the rows", () => {
    const cores = os.availableParallelism();
    expect(dataParallelWorkers("auto", "wasm")).toBe(cores);
    expect(dataParallelWorkers("auto", "cpu", 64)).toBe(cores);
    expect(dataParallelWorkers("auto", "wasm", 1)).toBe(1);
    expect(dataParallelWorkers("auto", "tensorflow")).toBe(1);
    expect(dataParallelWorkers(4, "tensorflow")).toBe(4);
    expect(dataParallelWorkers(4, "webgpu")).toBe(1);
    expect(dataParallelWorkers(3, "wasm", 2)).toBe(2);
    expect(dataParallelWorkers(undefined, "wasm")).toBe(1);
  });

  it("is the default, and the run log says what it resolved to", async () => {
    const run = await train("dpo", twoSteps.dpo);
    const threads = Math.min(os.availableParallelism(), configs.dpo.batchSize);
    expect(run.logs).toContain(
      threads > 1
        ? `data parallel: ${threads} worker threads on wasm (workers: auto, ${os.availableParallelism()} cores)`
        : `data parallel: off, this thread computes on wasm (workers: auto, ${os.availableParallelism()} cores)`,
    );
  });
});

describe("the reward model's and DPO's batches on the wasm heap", () => {
  // Pairs of up to 1,024 tokens with GPT-2's vocabulary: ~2 GB of logits and their gradient a pair, so of
  // a batch of 4 one pair fits at a time (3.2 GB budget); two workers hold one pair each.
  it("DPO splits a batch that does not fit into micro-batches, says so, and trains", async () => {
    const dpo = { policy: wideDir(1024), maxLength: 1024, batchSize: 4, gradAccumSteps: 4 };
    const one = await train("dpo", { ...dpo, workers: 1 });
    expect(
      one.logs.some((l) =>
        /^memory: a batch of 4 pairs needs ~[\d.]+ GB of the 3\.20 GB wasm heap budget; training with micro-batches of 1 accumulated 4 times/.test(
          l,
        ),
      ),
    ).toBe(true);
    const two = await train("dpo", { ...dpo, workers: 2 });
    expect(
      two.logs.some((l) =>
        /^memory: a batch of 4 pairs needs ~[\d.]+ GB per worker .* micro-batches of 2 accumulated 2 times/.test(
          l,
        ),
      ),
    ).toBe(true);
    // The split changes how the batch is summed, not what it computes.
    expect(Number(two.summary.loss)).toBeCloseTo(Number(one.summary.loss), 4);
  });

  it("DPO refuses, before the first step, pairs that do not fit one at a time, saying what to change", async () => {
    const [run] = await t.db
      .insert(runs)
      .values({
        name: "dpo-too-long",
        kind: "dpo",
        config: { ...configs.dpo, policy: wideDir(2048), maxLength: 2048, workers: 1 },
      })
      .returning();
    const result = await executeRun(t, run!.id);
    expect(result.status).toBe("failed");
    expect(result.error).toMatch(
      /memory: even a micro-batch of 1 \(one of the pairs\) needs ~[\d.]+ GB of the wasm heap, whose budget is 3\.20 GB .*lora.*maxLength/,
    );
    expect(result.summary?.steps ?? 0).toBe(0);
  });

  it("the reward model plans its rankings with the score head (no logits): split at 2,048 tokens, refused at 8,192", async () => {
    const split = await train("reward", { init: wideDir(2048), maxLength: 2048, batchSize: 20, workers: 1 });
    expect(
      split.logs.some((l) =>
        /^memory: a batch of 20 rankings needs .* micro-batches of \d+ accumulated \d+ times/.test(l),
      ),
    ).toBe(true);
    const [run] = await t.db
      .insert(runs)
      .values({
        name: "reward-too-long",
        kind: "reward",
        config: { ...configs.reward, init: wideDir(8192), maxLength: 8192, workers: 1 },
      })
      .returning();
    const result = await executeRun(t, run!.id);
    expect(result.status).toBe("failed");
    expect(result.error).toMatch(/memory: even a micro-batch of 1 \(one of the rankings\) needs ~[\d.]+ GB/);
  });
});
