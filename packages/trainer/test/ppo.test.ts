import { parseJobConfig } from "@rlhf/core/configs";
import { checkpoints, runs, samples } from "@rlhf/core/schema";
import * as tf from "@tensorflow/tfjs";
import { asc, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { loadCheckpoint } from "../src/checkpoint";
import { executeRun } from "../src/jobs/execute";
import { ppoRewardTerms } from "../src/trainers/ppo";
import { onlineTestSetup } from "./fixtures/online";
import { expectTimingSplit } from "./fixtures/timing";

const online = onlineTestSetup("ppo");
const { policyDir, series } = online;

const ppoConfig = (extra: Record<string, unknown> = {}) => ({
  policy: policyDir,
  rewards: [{ function: "contains", params: { text: "e", perOccurrence: true } }],
  // Logged, not optimised: the gold-vs-proxy view.
  evaluation: [{ function: "sentiment", name: "oracle" }],
  iterations: 12,
  rolloutBatchSize: 16,
  miniBatches: 2,
  ppoEpochs: 2,
  responseLength: 8,
  temperature: 1,
  learningRate: 1e-2,
  klCoef: 0.01,
  missingEosPenalty: 0,
  sampleEvery: 4,
  checkpointEvery: 6,
  backend: "wasm",
  ...extra,
});

describe("PPO", () => {
  it("raises a toy reward (occurrences of 'e') within a few iterations, logs TRL's metrics, leaks no tensors", async () => {
    const [run] = await online.t.db
      .insert(runs)
      .values({ name: "ppo-toy", kind: "ppo", config: ppoConfig() })
      .returning();
    const before = tf.memory().numTensors;
    const perIteration: number[] = [];
    const result = await executeRun(online.t, run!.id, {
      onProgress: (step) => {
        if (step >= 2 && step <= 5) perIteration.push(tf.memory().numTensors);
      },
    });
    if (result.error) {
      const logs = await online.t.pool.query(
        "select message from run_logs where run_id = $1 and level = 'debug'",
        [run!.id],
      );
      throw new Error(`${result.error}\n${logs.rows.map((r) => r.message).join("\n")}`);
    }
    expect(result.status).toBe("succeeded");
    expect(new Set(perIteration).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);

    const scores = await series(run!.id, "objective/scores");
    expect(scores).toHaveLength(12);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const early = mean(scores.slice(0, 3));
    const late = mean(scores.slice(-3));
    expect(late).toBeGreaterThan(early * 1.3 + 0.3);

    for (const key of [
      "objective/kl",
      "objective/entropy",
      "objective/non_score_reward",
      "objective/rlhf_reward",
      "policy/approxkl_avg",
      "policy/clipfrac_avg",
      "loss/policy_avg",
      "loss/value_avg",
      "val/clipfrac_avg",
      "val/ratio",
      "val/num_eos_tokens",
      "rewards/contains/mean",
      "rewards/contains/std",
      "rewards/oracle/mean",
      "objective/oracle_score",
      "lr",
      "perf/tokens_per_sec",
    ]) {
      expect(await series(run!.id, key), key).toHaveLength(12);
    }
    await expectTimingSplit((key) => series(run!.id, key), 12);
    // The learning rate is annealed linearly toward zero.
    const lr = await series(run!.id, "lr");
    expect(lr[0]).toBeCloseTo(1e-2, 6);
    expect(lr.at(-1)!).toBeLessThan(lr[0]! / 5);
    const stored = await online.t.db.select().from(samples).where(eq(samples.runId, run!.id));
    expect(stored.length).toBeGreaterThan(0);
    expect(stored[0]!.kl).not.toBeNull();
    const saved = await online.t.db
      .select()
      .from(checkpoints)
      .where(eq(checkpoints.runId, run!.id))
      .orderBy(asc(checkpoints.step));
    expect(saved.map((c) => [c.step, c.isFinal])).toEqual([
      [6, false],
      [12, true],
    ]);
    // The trained policy is a loadable checkpoint (with its value head exported the TRL way).
    const loaded = await loadCheckpoint(saved.at(-1)!.path, { valueHead: true });
    expect(loaded.model.hasValueHead).toBe(true);
    loaded.model.dispose();
  });

  it("first update of an unchanged policy has ratio 1 and no clipping (the rollout's log-probs match the update's)", async () => {
    const [run] = await online.t.db
      .insert(runs)
      .values({
        name: "ppo-ratio",
        kind: "ppo",
        config: ppoConfig({
          iterations: 1,
          ppoEpochs: 1,
          miniBatches: 1,
          learningRate: 1e-9,
          // The shorthand for one reward function, and no evaluation functions: no oracle score.
          rewards: undefined,
          evaluation: undefined,
          rewardFunction: "contains:e",
        }),
      })
      .returning();
    const result = await executeRun(online.t, run!.id);
    expect(result.status).toBe("succeeded");
    expect((await series(run!.id, "val/ratio"))[0]).toBeCloseTo(1, 5);
    expect((await series(run!.id, "policy/clipfrac_avg"))[0]).toBe(0);
    expect((await series(run!.id, "policy/approxkl_avg"))[0]).toBeCloseTo(0, 8);
    // The reference is the starting policy: the KL to it is zero before any update.
    expect((await series(run!.id, "objective/kl"))[0]).toBeCloseTo(0, 5);
    expect(await series(run!.id, "objective/oracle_score")).toHaveLength(0);
  });

  it("validates its reward source: a reward model, reward functions, or both, summed", () => {
    expect(() => parseJobConfig("ppo", { policy: "x" })).toThrow(/give a reward/);
    expect(() => parseJobConfig("ppo", { policy: "x", rewardFunction: "vibes" })).toThrow(/rewardFunction/);
    expect(() => parseJobConfig("ppo", { policy: "x", rewards: [{ function: "vibes" }] })).toThrow(
      /unknown reward function "vibes"/,
    );
    const config = parseJobConfig("ppo", {
      policy: "x",
      rewardModel: "run:rm",
      rewardFunction: "contains:ab",
      rewards: [{ function: "ends", weight: 0.5 }],
    });
    expect(ppoRewardTerms(config).map((t) => [t.name, t.function, t.weight, t.params])).toEqual([
      ["reward_model", "reward_model", 1, { checkpoint: "run:rm", normalized: true }],
      ["contains", "contains", 1, expect.objectContaining({ text: "ab", perOccurrence: true })],
      ["ends", "ends", 0.5, { score: 1, otherwise: 0 }],
    ]);
  });
});
