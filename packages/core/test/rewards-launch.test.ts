/**
 * Launch-time checks of a reward spec on real PostgreSQL: a user's reward module that is missing, or lacks
 * the export, refuses the launch with nothing written; a good one is stored with its absolute path.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../src/configs";
import { runs } from "../src/db/schema";
import { createTestDatabase, type TestDatabase } from "../src/db/testing";
import { launchPipeline, launchRun, queueFor } from "../src/queue";

let t: TestDatabase;
const dir = mkdtempSync(path.join(tmpdir(), "reward-launch-"));
const file = path.join(dir, "mine.ts");
writeFileSync(file, "export const brevity = (_p: string[], c: string[]) => c.map((x) => -x.length);\n");

beforeAll(async () => {
  t = await createTestDatabase();
  await queueFor(t);
});
afterAll(async () => t?.drop());

const grpo = (fn: { module: string; export: string }) => ({
  kind: "grpo" as const,
  config: { policy: dir, rewards: [{ function: "sentiment" }, { function: fn }] },
});
const counts = async () => ({
  runs: (await t.db.select().from(runs)).length,
  jobs: Number((await t.pool.query("select count(*) from pgboss.job")).rows[0].count),
});

describe("launching with a user's reward function", () => {
  it("refuses a missing file or export, naming the field, with no run and no job", async () => {
    const before = await counts();
    for (const [fn, field] of [
      [{ module: path.join(dir, "nope.ts"), export: "brevity" }, "rewards.1.function.module"],
      [{ module: file, export: "brevty" }, "rewards.1.function.export"],
    ] as const) {
      const error = await launchRun(t, grpo(fn)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).issues.map((i) => i.path)).toEqual([field]);
    }
    // In a pipeline the earlier, valid step is not queued either.
    const error = await launchPipeline(t, [
      { key: "a", ...grpo({ module: file, export: "brevity" }) },
      { key: "b", ...grpo({ module: file, export: "brevty" }) },
    ]).catch((e: unknown) => e);
    expect((error as ConfigError).issues.map((i) => i.path)).toEqual(["b.rewards.1.function.export"]);
    expect(await counts()).toEqual(before);
  });

  it("stores the module's absolute path in the run's config", async () => {
    const relative = path.relative(process.cwd(), file);
    const run = await launchRun(t, grpo({ module: relative, export: "brevity" }));
    const [row] = await t.db.select().from(runs);
    expect(row!.id).toBe(run.id);
    expect((row!.config as { rewards: { function: unknown }[] }).rewards[1]!.function).toEqual({
      module: file,
      export: "brevity",
    });
  });
});
