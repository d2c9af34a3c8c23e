/**
 * The demo chain, written once (@rlhf/core/demo) for `rlhf pipeline --demo` and the dashboard's demo
 * button: its stage settings are the ones the demo's table was measured with (a snapshot, so a change
 * to any of them shows here), the CLI's runs store configs that read exactly as before, and the chain's
 * edges are recorded both ways it runs.
 */
import { readFileSync } from "node:fs";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, isJobKind, parseJobConfig } from "../src/configs";
import { runInputs, runs } from "../src/db/schema";
import { createTestDatabase, type TestDatabase } from "../src/db/testing";
import {
  demoChain,
  demoPipelineSteps,
  demoRunName,
  demoStages,
  launchDemoPipeline,
  wireDemoStep,
} from "../src/demo";
import { createRun, validateRunConfig } from "../src/queue";

/** demoStages and demoChain as they were when the demo's table was measured (JSON of each). */
const before = JSON.parse(
  readFileSync(new URL("./fixtures/demo-chain.json", import.meta.url), "utf8"),
) as Record<string, { stages: unknown; chain: unknown }>;

describe("demo chain", () => {
  it("has the stage settings and edges the demo's table was measured with", () => {
    for (const quick of [false, true]) {
      for (const seed of [1234, 7]) {
        const then = before[`${quick ? "quick" : "full"}-${seed}`]!;
        expect(JSON.parse(JSON.stringify(demoStages(quick, seed)))).toEqual(then.stages);
        expect(JSON.parse(JSON.stringify(demoChain(quick, seed)))).toEqual(then.chain);
      }
    }
  });

  it("chains the stages by run:<key> references", () => {
    const steps = demoPipelineSteps({ quick: true });
    expect(steps.map((s) => [s.key, s.kind, s.name])).toEqual([
      ["pretrain", "pretrain", "demo-quick-pretrain"],
      ["sft", "sft", "demo-quick-sft"],
      ["generate", "generate", "demo-quick-generate"],
      ["reward", "reward", "demo-quick-reward"],
      ["ppo", "ppo", "demo-quick-ppo"],
      ["grpo", "grpo", "demo-quick-grpo"],
      ["grpo-oracle", "grpo", "demo-quick-grpo-oracle"],
      ["rloo", "rloo", "demo-quick-rloo"],
      ["dpo", "dpo", "demo-quick-dpo"],
    ]);
    expect(steps.find((s) => s.key === "ppo")!.config).toMatchObject({
      policy: "run:sft",
      rewardModel: "run:reward",
    });
    expect(steps.find((s) => s.key === "grpo")!.config).toMatchObject({
      policy: "run:sft",
      rewards: [{ function: "reward_model", params: { checkpoint: "run:reward" } }, { function: "ends" }],
    });
    expect(demoRunName({ name: "mine" }, "sft")).toBe("mine-sft");
  });

  it("stores, for `rlhf pipeline --demo`, configs the trainers read exactly as the unvalidated ones before", async () => {
    const ids = Object.fromEntries(
      demoChain(false, 1234).map(({ key }, i) => [
        key,
        `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      ]),
    );
    for (const quick of [false, true]) {
      for (const step of demoChain(quick, 1234)) {
        const { config, inputs } = wireDemoStep(step, ids);
        expect(isJobKind(step.kind)).toBe(true);
        // What executeRun parsed before (the raw config) and what it parses now (the validated one).
        const stored = await validateRunConfig(step.kind, config);
        expect(parseJobConfig(step.kind, stored)).toEqual(parseJobConfig(step.kind, config));
        expect(JSON.stringify(config)).not.toMatch(/run:(?![0-9a-f-]{36}")/);
        expect(inputs).toEqual(step.inputs.map(([parent, role]) => ({ parentRunId: ids[parent], role })));
      }
    }
  });

  it("refuses to wire a stage before the runs it consumes exist", () => {
    const sft = demoChain(true, 1234).find((s) => s.key === "sft")!;
    expect(() => wireDemoStep(sft, {})).toThrow(/sft needs pretrain/);
  });
});

describe("demo runs in the database", () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => t?.drop());

  it("createRun records a validated run with its pipeline and inputs, and nothing for an invalid one", async () => {
    const [pretrain, sft] = demoChain(true, 1234);
    const pipelineId = crypto.randomUUID();
    const first = await createRun(t, {
      kind: "pretrain",
      ...wireDemoStep(pretrain!, {}),
      name: "c-pretrain",
      pipelineId,
    });
    expect(first).toMatchObject({ name: "c-pretrain", status: "queued", pipelineId, jobId: null });
    // Defaults filled: what the trainer will read.
    expect(first.config).toEqual(parseJobConfig("pretrain", pretrain!.config));
    const second = await createRun(t, {
      kind: "sft",
      ...wireDemoStep(sft!, { pretrain: first.id }),
      name: "c-sft",
      pipelineId,
    });
    expect(second.config.init).toBe(`run:${first.id}`);
    expect(await t.db.select().from(runInputs).where(eq(runInputs.runId, second.id))).toEqual([
      { runId: second.id, parentRunId: first.id, role: "checkpoint" },
    ]);

    const count = async () => (await t.db.select().from(runs)).length;
    const n = await count();
    await expect(createRun(t, { kind: "pretrain", config: { maxSteps: -1 } })).rejects.toBeInstanceOf(
      ConfigError,
    );
    await expect(createRun(t, { kind: "pretrain", config: { nope: 1 } })).rejects.toBeInstanceOf(ConfigError);
    await expect(createRun(t, { kind: "pretrain", config: {}, name: first.id })).rejects.toThrow(/is a UUID/);
    expect(await count()).toBe(n);
  });

  it("the dashboard's button queues the chain with the completions edges no config names", async () => {
    const { runs: launched } = await launchDemoPipeline(t, { quick: true });
    const id = (key: string) => launched.find((r) => r.name === `demo-quick-${key}`)!.id;
    const completions = await t.db.select().from(runInputs).where(eq(runInputs.role, "completions"));
    expect(completions.map((e) => [e.runId, e.parentRunId]).sort()).toEqual(
      [
        [id("reward"), id("generate")],
        [id("dpo"), id("generate")],
      ].sort(),
    );
  });
});
