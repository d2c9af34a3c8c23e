import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runInputs, runs } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { formatDemoSummary, runDemoPipeline } from "../src/pipeline/demo";

let t: TestDatabase;

beforeAll(async () => {
  process.env.RLHF_HOME = mkdtempSync(path.join(os.tmpdir(), "rlhf-pipeline-"));
  await initBackend("wasm");
  t = await createTestDatabase();
});
afterAll(async () => t?.drop());

describe("rlhf pipeline --demo --quick (the CI smoke test of the oracle experiment)", () => {
  it("runs every stage as linked runs and compares SFT, PPO and DPO on held-out prompts", async () => {
    const stages: string[] = [];
    const result = await runDemoPipeline(t, { quick: true, onStage: (s) => stages.push(s) });
    expect(stages).toEqual(["pretrain", "sft", "generate", "reward", "ppo", "dpo", "evaluate"]);

    const pipelineRuns = await t.db.select().from(runs).where(eq(runs.pipelineId, result.pipelineId));
    expect(pipelineRuns).toHaveLength(6);
    expect(pipelineRuns.every((r) => r.status === "succeeded")).toBe(true);
    const edges = await t.db.select().from(runInputs);
    const ppoInputs = edges.filter((e) => e.runId === result.runs.ppo).map((e) => [e.parentRunId, e.role]);
    expect(ppoInputs).toEqual(
      expect.arrayContaining([
        [result.runs.sft, "reference"],
        [result.runs.reward, "reward_model"],
      ]),
    );

    // Looser checks than the full experiment: everything measured, the SFT policy is its own reference.
    expect(result.rewardModel.evalAccuracy).toBeGreaterThanOrEqual(0);
    expect(result.rewardModel.evalAccuracy).toBeLessThanOrEqual(1);
    const { sft, ppo, dpo } = result.policies;
    expect(sft.klMean).toBeCloseTo(0, 4);
    for (const p of [sft, ppo, dpo]) {
      expect(p.samples).toBeGreaterThan(0);
      expect(Number.isFinite(p.oracleMean)).toBe(true);
      expect(Number.isFinite(p.klMean)).toBe(true);
    }
    const table = formatDemoSummary(result);
    expect(table).toMatch(/reward model: held-out accuracy/);
    expect(table).toMatch(/^PPO\s+\d+/m);
  });
});
