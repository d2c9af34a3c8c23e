/**
 * GRPO and RLOO end to end on a tiny random policy (real tfjs, real PostgreSQL): a `contains` reward rises,
 * TRL's metrics are logged, tensors stay flat across rounds, a resumed run ends where an uninterrupted one
 * does, GSPO's sequence-level ratio clips whole completions, and a reward function that fails stops the run
 * naming it.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { checkpoints, runs, samples } from "@rlhf/core/schema";
import * as tf from "@tensorflow/tfjs";
import { asc, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { executeRun } from "../src/jobs/execute";
import { onlineTestSetup } from "./fixtures/online";
import { runCutAndResumed } from "./fixtures/resume";
import { expectTimingSplit } from "./fixtures/timing";

const online = onlineTestSetup("grpo");
const { policyDir, series } = online;

/** Occurrences of "e", and the share of completions that ended (as an evaluation function). */
const groupConfig = (extra: Record<string, unknown> = {}) => ({
  policy: policyDir,
  rewards: [{ function: "contains", params: { text: "e", perOccurrence: true }, name: "e_count" }],
  evaluation: [{ function: "ends" }],
  iterations: 12,
  promptsPerIteration: 4,
  numGenerations: 4,
  maxCompletionLength: 8,
  // As the PPO test: 4 updates a round (2 passes × 2 minibatches).
  numIterations: 2,
  miniBatches: 2,
  learningRate: 1e-2,
  sampleEvery: 4,
  checkpointEvery: 6,
  backend: "wasm",
  ...extra,
});

async function run(
  kind: "grpo" | "rloo",
  name: string,
  config: Record<string, unknown>,
  onProgress?: (step: number) => void,
) {
  const [row] = await online.t.db.insert(runs).values({ name, kind, config }).returning();
  const result = await executeRun(online.t, row!.id, onProgress ? { onProgress } : {});
  if (result.error) {
    const logs = await online.t.pool.query("select message from run_logs where run_id = $1", [row!.id]);
    throw new Error(`${result.error}\n${logs.rows.map((r) => r.message).join("\n")}`);
  }
  return row!.id;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe.each(["grpo", "rloo"] as const)("%s", (kind) => {
  it("raises a contains: reward, logs TRL's metrics and the evaluation function, keeps tensors flat", async () => {
    const before = tf.memory().numTensors;
    const perRound: number[] = [];
    const id = await run(
      kind,
      `${kind}-toy`,
      groupConfig(kind === "rloo" ? { numGenerations: 4 } : {}),
      (step) => {
        if (step >= 2 && step <= 5) perRound.push(tf.memory().numTensors);
      },
    );
    expect(new Set(perRound).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);

    const reward = await series(id, "rewards/e_count/mean");
    expect(reward).toHaveLength(12);
    expect(mean(reward.slice(-3))).toBeGreaterThan(mean(reward.slice(0, 3)) * 1.3 + 0.3);
    for (const key of [
      "reward",
      "reward_std",
      "frac_reward_zero_std",
      "rewards/e_count/std",
      "rewards/ends/mean",
      "objective/oracle_score",
      "num_tokens",
      "completions/mean_length",
      "completions/clipped_ratio",
      "entropy",
      "clip_ratio/region_mean",
      "clip_ratio/low_min",
      "clip_ratio/high_max",
      "loss",
      "lr",
      "grad_norm",
    ]) {
      expect(await series(id, key), key).toHaveLength(12);
    }
    await expectTimingSplit((key) => series(id, key), 12);
    if (kind === "rloo")
      expect(await series(id, "kl"), "RLOO's default β = 0.05 measures the KL").toHaveLength(12);
    else expect(await series(id, "kl"), "β = 0: no reference, no KL").toHaveLength(0);
    // The second pass and minibatch are off-policy: the ratio leaves [1 − ε, 1 + ε] somewhere; the shares
    // are shares, and a round's largest per-completion share is at least its mean.
    const region = await series(id, "clip_ratio/region_mean");
    expect(Math.max(...region)).toBeGreaterThan(0);
    for (const share of region) expect(share).toBeLessThanOrEqual(1);
    const highMean = await series(id, "clip_ratio/high_mean");
    for (const [i, max] of (await series(id, "clip_ratio/high_max")).entries())
      expect(max).toBeGreaterThanOrEqual(highMean[i]!);

    const stored = await online.t.db.select().from(samples).where(eq(samples.runId, id));
    expect(stored.length).toBeGreaterThan(0);
    expect(stored[0]!.extra).toMatchObject({ group: 0 });
    expect(typeof (stored[0]!.extra as Record<string, unknown>).e_count).toBe("number");
    const saved = await online.t.db
      .select()
      .from(checkpoints)
      .where(eq(checkpoints.runId, id))
      .orderBy(asc(checkpoints.step));
    expect(saved.map((c) => [c.step, c.isFinal])).toEqual([
      [6, false],
      [12, true],
    ]);
  });

  it("resumes after a shutdown and ends where an uninterrupted run ends", async () => {
    const config = groupConfig({ iterations: 6, checkpointEvery: 2, numIterations: 2, beta: 0.1 });
    const whole = await run(kind, `${kind}-whole`, config);
    const cut = await runCutAndResumed(online.t, { name: `${kind}-cut`, kind, config, stopAt: 3 });
    for (const key of ["loss", "reward", "kl"]) {
      const a = await series(whole, key);
      const b = await series(cut, key);
      expect(b).toHaveLength(6);
      for (const [i, value] of a.entries()) expect(b[i], `${key} at round ${i + 1}`).toBeCloseTo(value, 4);
    }
  });
});

describe("GSPO (importanceSamplingLevel)", () => {
  const logsOf = async (id: string) =>
    (await online.t.pool.query("select message from run_logs where run_id = $1", [id])).rows.map(
      (r) => r.message as string,
    );

  it("TRL's GSPO settings: sequence clips whole completions, GSPO-token trains as GSPO, both unlike per-token", async () => {
    const gspo = { lossType: "grpo", epsilon: 3e-4, epsilonHigh: 4e-4, beta: 0, iterations: 4 };
    const ids: Record<string, string> = {};
    for (const level of ["token", "sequence", "sequence_token"])
      ids[level] = await run(
        "grpo",
        `gspo-${level}`,
        groupConfig({ ...gspo, importanceSamplingLevel: level }),
      );
    const loss = async (level: string) => series(ids[level]!, "loss");
    expect(await loss("sequence")).toHaveLength(4);
    // Sequence level: the clip metrics are shares of completions, as TRL's (coef_1 is [B, 1]): each of a
    // round's 4 micro-batches (2 passes × 2 minibatches) holds 8 completions, so a round's mean is k/32.
    const region = await series(ids.sequence!, "clip_ratio/region_mean");
    expect(Math.max(...region), "off-policy passes leave [1 − 3e-4, 1 + 4e-4]").toBeGreaterThan(0);
    for (const key of ["clip_ratio/region_mean", "clip_ratio/low_mean", "clip_ratio/high_mean"])
      for (const share of await series(ids.sequence!, key))
        expect(Math.abs(share * 32 - Math.round(share * 32)), `${key} ${share}`).toBeLessThan(1e-6);
    // GSPO-token with one advantage per completion: GSPO's value and gradient, so the same run.
    const sequence = await loss("sequence");
    for (const [i, value] of (await loss("sequence_token")).entries())
      expect(value, `round ${i + 1}`).toBeCloseTo(sequence[i]!, 5);
    // Per-token ratios clip other tokens: after the first (on-policy) round the runs part.
    const token = await loss("token");
    expect(Math.max(...token.map((value, i) => Math.abs(value - sequence[i]!)))).toBeGreaterThan(1e-3);
    for (const id of Object.values(ids))
      expect((await logsOf(id)).join("\n")).not.toMatch(/importanceSamplingLevel/);
  });

  it("sequence with a token-summing lossType logs TRL's warning", async () => {
    const id = await run(
      "grpo",
      "gspo-dapo",
      groupConfig({ importanceSamplingLevel: "sequence", lossType: "dapo", iterations: 1 }),
    );
    expect((await logsOf(id)).join("\n")).toMatch(
      /importanceSamplingLevel "sequence" with lossType "dapo".*GSPO's paper uses lossType "grpo"/,
    );
  });
});

describe("reward functions in a run", () => {
  it("a user module that returns NaN fails the run naming the function and the row", async () => {
    const module = path.join(online.home, "bad-reward.mjs");
    writeFileSync(
      module,
      "export function nanOnSecond(prompts, completions) { return completions.map((_, i) => (i === 1 ? Number.NaN : 0)); }\n",
    );
    const [row] = await online.t.db
      .insert(runs)
      .values({
        name: "grpo-nan",
        kind: "grpo",
        config: groupConfig({ rewards: [{ function: { module, export: "nanOnSecond" } }], iterations: 2 }),
      })
      .returning();
    const result = await executeRun(online.t, row!.id);
    expect(result.status).toBe("failed");
    expect(result.error).toMatch(/reward function "nanOnSecond" at batch row 1/);
    expect(await online.t.db.select().from(checkpoints).where(eq(checkpoints.runId, row!.id))).toHaveLength(
      0,
    );
  });
});
