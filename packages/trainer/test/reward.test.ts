import { readFileSync } from "node:fs";
import path from "node:path";
import { DEMO_DATASETS } from "@rlhf/core/demo";
import { checkpoints, runs } from "@rlhf/core/schema";
import type { TestDatabase } from "@rlhf/core/testing";
import * as tf from "@tensorflow/tfjs";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { loadCheckpoint } from "../src/checkpoint";
import { readSafetensors } from "../src/checkpoint/safetensors";
import { executeRun } from "../src/jobs/execute";
import { GPT, gptConfig } from "../src/model";
import {
  applyNormalization,
  initRewardHead,
  normalizeRewards,
  rewardHeadIsZero,
  rewardScores,
} from "../src/rl/reward-model";
import type { Tokenizer } from "../src/tokenizer";
import {
  computeNormalization,
  type EncodedRanking,
  encodeRankings,
  pairwiseLoss,
  rewardBatch,
} from "../src/trainers/reward";
import { preferenceTestSetup, tiny } from "./fixtures/preferences";

let t: TestDatabase;
let tokenizer: Tokenizer;
const { sftDir, series, finalCheckpoint, expectResumeMatchesWhole } = preferenceTestSetup(
  { home: "rlhf-reward-", tasks: 160, evalEvery: 4, seeds: { sentences: 11, tasks: 1 } },
  (ready) => ({ t, tokenizer } = ready),
);

const rewardConfig = (extra: Record<string, unknown> = {}) => ({
  init: sftDir,
  datasets: [DEMO_DATASETS.preferences],
  epochs: 4,
  batchSize: 8,
  maxLength: 64,
  learningRate: 3e-3,
  minLearningRate: 3e-4,
  warmupSteps: 3,
  weightDecay: 0,
  evalFraction: 0.25,
  evalEvery: 10,
  evalBatches: 5,
  checkpointEvery: 20,
  normalizeSamples: 16,
  backend: "wasm",
  ...extra,
});

describe("reward model building blocks", () => {
  const ranking = (taskId: string, ids: string[], pairs: [number, number][], margin = 0): EncodedRanking => ({
    taskId,
    split: "train",
    prompt: "p",
    completions: ids.map((id, i) => ({ id, ids: [1, 2, 3 + i] })),
    pairs: pairs.map(([chosen, rejected]) => ({ chosen, rejected, margin })),
  });

  it("groups as InstructGPT: each completion forwarded once per batch, the loss a mean over rankings of their pairs' mean", () => {
    // Two annotators ranked task A (same completions), one ranked task B.
    const batch = rewardBatch([
      ranking(
        "A",
        ["a1", "a2", "a3"],
        [
          [0, 1],
          [0, 2],
          [1, 2],
        ],
      ),
      ranking(
        "A",
        ["a1", "a2", "a3"],
        [
          [1, 0],
          [1, 2],
        ],
      ),
      ranking("B", ["b1", "b2"], [[0, 1]]),
    ]);
    expect(batch.sequences).toHaveLength(5); // not 2 × 6 pairs: one forward pass per distinct completion
    expect(batch.pairs).toHaveLength(6);
    expect(batch.pairs.slice(3, 5).map((p) => [p.chosen, p.rejected])).toEqual([
      [1, 0],
      [1, 2],
    ]);
    expect(batch.pairs.map((p) => p.weight)).toEqual([1 / 9, 1 / 9, 1 / 9, 1 / 6, 1 / 6, 1 / 3]);
    expect(batch.pairs.reduce((a, p) => a + p.weight, 0)).toBeCloseTo(1, 10);
  });

  it("pairwiseLoss matches a plain loop, with margins and the centering term, and has the right gradient", () => {
    const batch = rewardBatch([
      ranking(
        "A",
        ["a1", "a2", "a3"],
        [
          [0, 1],
          [0, 2],
          [1, 2],
        ],
        2,
      ),
      ranking("B", ["b1", "b2"], [[0, 1]], 1),
    ]);
    const r = [0.5, -0.25, 1.5, 2, -1];
    const reference = (marginOn: boolean, c: number) => {
      let loss = 0;
      for (const p of batch.pairs) {
        const x = r[p.chosen]! - r[p.rejected]! - (marginOn ? p.margin : 0);
        loss += p.weight * -Math.log(1 / (1 + Math.exp(-x)));
        loss += c * p.weight * (r[p.chosen]! + r[p.rejected]!) ** 2;
      }
      return loss;
    };
    for (const [marginOn, c] of [
      [false, 0],
      [true, 0],
      [true, 0.01],
    ] as const) {
      const got = tf.tidy(
        () =>
          pairwiseLoss(tf.tensor1d(r), batch, {
            marginFromStrength: marginOn,
            centerRewardsCoefficient: c,
          }).dataSync()[0]!,
      );
      expect(got).toBeCloseTo(reference(marginOn, c), 5);
    }
    // d loss / d r_k against central differences of the reference.
    const grad = tf.tidy(() =>
      Array.from(
        tf
          .grad((x: tf.Tensor) =>
            pairwiseLoss(x as tf.Tensor1D, batch, {
              marginFromStrength: true,
              centerRewardsCoefficient: 0.01,
            }),
          )(tf.tensor1d(r))
          .dataSync(),
      ),
    );
    for (let k = 0; k < r.length; k++) {
      const h = 1e-3;
      const saved = r[k]!;
      r[k] = saved + h;
      const up = reference(true, 0.01);
      r[k] = saved - h;
      const down = reference(true, 0.01);
      r[k] = saved;
      expect(grad[k]).toBeCloseTo((up - down) / (2 * h), 3);
    }
  });

  it("reads the reward at the last real token: padding never changes a sequence's reward", () => {
    const model = new GPT(gptConfig("tiny", { ...tiny, vocabSize: 64 }), { seed: 2, rewardHead: true });
    const short = [5, 9, 2, 7];
    const long = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3];
    const [alone] = rewardScores(model, [short], 0);
    const [withLonger, longScore] = rewardScores(model, [short, long], 0);
    const [otherPad] = rewardScores(model, [short, long], 63);
    expect(withLonger).toBeCloseTo(alone!, 5);
    expect(otherPad).toBeCloseTo(alone!, 5);
    // It is the score head's output at the last token of the unpadded sequence.
    const direct = tf.tidy(() => {
      const out = model.forward(tf.tensor2d([short], undefined, "int32"), { logits: "none" });
      return out.scores!.dataSync()[short.length - 1]!;
    });
    expect(alone).toBeCloseTo(direct, 5);
    expect(longScore).not.toBeCloseTo(alone!, 5);
    // Nor does the batch size.
    const oneByOne = rewardScores(model, [short, long], 0, 1);
    expect(oneByOne[0]).toBeCloseTo(alone!, 5);
    expect(oneByOne[1]).toBeCloseTo(longScore!, 5);
    model.dispose();
  });

  it("initialises a zero score head to N(0, 1/√(d+1)) and normalises to mean 0, std 1", () => {
    const model = new GPT(
      gptConfig("tiny", { nLayer: 1, nEmbd: 256, nHead: 2, nPositions: 16, vocabSize: 32 }),
      {
        init: "zeros",
        rewardHead: true,
      },
    );
    expect(rewardHeadIsZero(model)).toBe(true);
    initRewardHead(model, 3);
    expect(rewardHeadIsZero(model)).toBe(false);
    const w = Array.from(model.param("score.weight").dataSync());
    const std = Math.sqrt(w.reduce((a, x) => a + x * x, 0) / w.length);
    expect(std).toBeGreaterThan(0.8 / Math.sqrt(257));
    expect(std).toBeLessThan(1.2 / Math.sqrt(257));
    model.dispose();

    const scores = [3, 5, -1, 7, 2.5, 0];
    const norm = normalizeRewards(scores);
    const z = scores.map((s) => applyNormalization(s, norm));
    const mean = z.reduce((a, b) => a + b, 0) / z.length;
    expect(mean).toBeCloseTo(0, 10);
    expect(Math.sqrt(z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length)).toBeCloseTo(1, 10);
    expect(norm.samples).toBe(6);
    expect(applyNormalization(4, undefined)).toBe(4);
    expect(normalizeRewards([2, 2])).toEqual({ gain: 1, bias: -2, samples: 2 });
  });

  it("normalises on samples of the SFT model: their normalised rewards have mean ≈ 0 and std ≈ 1", async () => {
    const { model: policy } = await loadCheckpoint(sftDir, { trainable: false });
    const rm = new GPT(policy.config, { seed: 4, rewardHead: true });
    const prompts = ["Tell me about the park.", "Describe the lake.", "How was the soup?"];
    const { normalization, responses } = await computeNormalization(rm, policy, tokenizer, prompts, {
      samples: 12,
      seed: 7,
      maxLength: 40,
      batchSize: 5,
    });
    expect(normalization.samples).toBe(12);
    expect(responses).toHaveLength(12);
    expect(new Set(responses.map((r) => r.response)).size).toBeGreaterThan(1);
    const z = responses.map((r) => applyNormalization(r.score, normalization));
    const mean = z.reduce((a, b) => a + b, 0) / z.length;
    const std = Math.sqrt(z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length);
    expect(mean).toBeCloseTo(0, 4);
    expect(std).toBeCloseTo(1, 4);
    rm.dispose();
    policy.dispose();
  });

  it("filters over-long completions with their pairs instead of truncating", () => {
    const groups = [
      {
        rankingId: "r",
        taskId: "A",
        dataset: "d",
        annotatorId: "x",
        prompt: "Tell me about the park.",
        completions: [
          { id: "short", response: "Nice." },
          { id: "long", response: "It was good. ".repeat(20) },
          { id: "mid", response: "It was bad." },
        ],
        pairs: [
          [0, 1],
          [0, 2],
          [1, 2],
        ] as [number, number][],
        strength: null,
        split: "train" as const,
      },
    ];
    const { rankings, filteredCompletions, droppedPairs } = encodeRankings(groups, tokenizer, 32);
    expect(filteredCompletions).toBe(1);
    expect(droppedPairs).toBe(2);
    expect(rankings[0]!.completions.map((c) => c.id)).toEqual(["short", "mid"]);
    expect(rankings[0]!.pairs).toEqual([{ chosen: 0, rejected: 1, margin: 0 }]);
    expect(rankings[0]!.completions[0]!.ids.at(-1)).toBe(tokenizer.eosId);
  });
});

describe("trainReward", () => {
  it("learns the oracle's preference to ≥ 90% held-out accuracy, normalises, exports a GPT2ForSequenceClassification, leaks no tensors", async () => {
    const before = tf.memory().numTensors;
    const [run] = await t.db
      .insert(runs)
      .values({ name: "rm", kind: "reward", config: rewardConfig() })
      .returning();
    const perStep: number[] = [];
    const result = await executeRun(t, run!.id, {
      onProgress: (step) => {
        // Steps 2..20 see evaluations (every 10) but no checkpoint yet (the first is saved after step 20).
        if (step >= 2 && step <= 20) perStep.push(tf.memory().numTensors);
      },
    });
    expect(result.error).toBeUndefined();
    expect(result.status).toBe("succeeded");
    expect(new Set(perStep).size).toBe(1); // flat across steps, evaluations included
    expect(
      (await t.db.select().from(checkpoints).where(eq(checkpoints.runId, run!.id))).length,
    ).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before); // checkpoints included

    const summary = result.summary!;
    expect(summary["eval/accuracy"]).toBeGreaterThanOrEqual(0.9);
    expect(summary["normalization/samples"]).toBe(16);
    const accuracy = await series(run!.id, "accuracy");
    expect(accuracy.length).toBe(summary.steps);
    for (const key of [
      "loss",
      "margin",
      "eval/loss",
      "eval/accuracy",
      "reward/mean",
      "reward/std",
      "lr",
      "grad_norm",
      "perf/tokens_per_sec",
    ]) {
      expect((await series(run!.id, key)).length, key).toBeGreaterThan(0);
    }
    const loss = await series(run!.id, "loss");
    expect(loss.at(-1)!.value).toBeLessThan(loss[0]!.value);
    const { rows } = await t.pool.query("select reward, extra from samples where run_id = $1", [run!.id]);
    expect(rows.length).toBe(4);

    // The final checkpoint, as transformers and TRL read it.
    const { final, config } = await finalCheckpoint(run!.id);
    expect(config.architectures).toEqual(["GPT2ForSequenceClassification"]);
    expect(config.num_labels).toBe(1);
    expect(config.pad_token_id).toBe(tokenizer.padId);
    const { tensors } = await readSafetensors(path.join(final.path, "model.safetensors"));
    expect(tensors.get("score.weight")!.shape).toEqual([1, 32]);
    expect(tensors.has("score.bias")).toBe(false);
    const norm = JSON.parse(readFileSync(path.join(final.path, "reward_normalization.json"), "utf8"));
    expect(norm.samples).toBe(16);
    expect(Number.isFinite(norm.gain) && norm.gain > 0).toBe(true);
    const loaded = await loadCheckpoint(final.path, { rewardHead: true });
    expect(loaded.rewardNormalization).toMatchObject({ gain: norm.gain, bias: norm.bias });
    loaded.model.dispose();
  });

  it("resumes after a shutdown and ends where an uninterrupted run ends", async () => {
    const config = rewardConfig({ epochs: 1, checkpointEvery: 3, normalizeSamples: 0, evalEvery: 100 });
    await expectResumeMatchesWhole("reward", "rm", config);
  });

  it("fails clearly when a dataset does not exist", async () => {
    const [run] = await t.db
      .insert(runs)
      .values({ name: "rm-missing", kind: "reward", config: rewardConfig({ datasets: ["nope"] }) })
      .returning();
    const result = await executeRun(t, run!.id);
    expect(result.status).toBe("failed");
    expect(result.error).toMatch(/preference dataset "nope" does not exist/);
  });
});
