import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations } from "../src/db/open";
import * as s from "../src/db/schema";
import { createTestDatabase, type TestDatabase } from "../src/db/testing";

let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

/** The SQLSTATE of the error a promise rejects with (drizzle wraps pg's error in `cause`). */
async function sqlState(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    const e = error as { code?: string; cause?: { code?: string } };
    return e.code ?? e.cause?.code;
  }
  return undefined;
}

async function makeRun(kind: s.RunKind = "pretrain") {
  const [run] = await t.db
    .insert(s.runs)
    .values({ name: `run-${kind}`, kind, config: {} })
    .returning();
  return run!;
}

async function makeTask() {
  const [dataset] = await t.db
    .insert(s.datasets)
    .values({ name: `prefs-${Math.random()}`, kind: "preferences" })
    .returning();
  const [task] = await t.db
    .insert(s.comparisonTasks)
    .values({ datasetId: dataset!.id, prompt: "Say hi" })
    .returning();
  const [user] = await t.db
    .insert(s.users)
    .values({ id: `u-${Math.random()}`, name: "Ann", email: `${Math.random()}@example.com` })
    .returning();
  return { task: task!, user: user! };
}

describe("migrations", () => {
  it("create every table of the domain on an empty database", async () => {
    const { rows } = await t.pool.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public' order by 1",
    );
    const tables = rows.map((r) => r.table_name);
    for (const name of [
      "datasets",
      "examples",
      "completions",
      "comparison_tasks",
      "task_completions",
      "rankings",
      "users",
      "sessions",
      "runs",
      "run_inputs",
      "checkpoints",
      "run_logs",
      "metrics",
      "samples",
    ]) {
      expect(tables).toContain(name);
    }
  });

  it("re-apply as a no-op", async () => {
    const before = await t.pool.query("select count(*)::int as n from drizzle.__drizzle_migrations");
    await applyMigrations(t.db, t.pool);
    await applyMigrations(t.db, t.pool);
    const after = await t.pool.query("select count(*)::int as n from drizzle.__drizzle_migrations");
    expect(after.rows[0].n).toBe(before.rows[0].n);
    expect(before.rows[0].n).toBeGreaterThan(0);
  });

  it("apply concurrently from several pools without error", async () => {
    const pools = await Promise.all([1, 2, 3].map(() => applyMigrations(t.db, t.pool)));
    expect(pools).toHaveLength(3);
  });
});

describe("constraints", () => {
  it("reject a second ranking of the same task by the same annotator", async () => {
    const { task, user } = await makeTask();
    await t.db.insert(s.rankings).values({ taskId: task.id, annotatorId: user.id, ranking: [["a"], ["b"]] });
    const code = await sqlState(
      t.db.insert(s.rankings).values({ taskId: task.id, annotatorId: user.id, ranking: [["b"], ["a"]] }),
    );
    expect(code).toBe("23505"); // unique_violation
  });

  it("reject a ranking that is neither an order, a skip nor 'all bad'", async () => {
    const { task, user } = await makeTask();
    const code = await sqlState(t.db.insert(s.rankings).values({ taskId: task.id, annotatorId: user.id }));
    expect(code).toBe("23514"); // check_violation
    await t.db.insert(s.rankings).values({ taskId: task.id, annotatorId: user.id, skipped: true });
  });

  it("reject a metric of a run that does not exist", async () => {
    const code = await sqlState(
      t.db
        .insert(s.metrics)
        .values({ runId: "00000000-0000-0000-0000-000000000000", key: "loss", step: 1, value: 1 }),
    );
    expect(code).toBe("23503"); // foreign_key_violation
  });

  it("keep one point per (run, key, step) and let a resumed run upsert it", async () => {
    const run = await makeRun();
    await t.db.insert(s.metrics).values({ runId: run.id, key: "loss", step: 3, value: 2.5 });
    const code = await sqlState(
      t.db.insert(s.metrics).values({ runId: run.id, key: "loss", step: 3, value: 2.4 }),
    );
    expect(code).toBe("23505");
    await t.db
      .insert(s.metrics)
      .values({ runId: run.id, key: "loss", step: 3, value: 2.4 })
      .onConflictDoUpdate({ target: [s.metrics.runId, s.metrics.key, s.metrics.step], set: { value: 2.4 } });
    const points = await t.db.select().from(s.metrics).where(eq(s.metrics.runId, run.id));
    expect(points.map((p) => p.value)).toEqual([2.4]);
  });

  it("reject values out of range: unknown run status, negative step, required rankings of 0", async () => {
    const run = await makeRun();
    expect(await sqlState(t.pool.query("update runs set status = 'exploded' where id = $1", [run.id]))).toBe(
      "23514",
    );
    expect(
      await sqlState(t.db.insert(s.metrics).values({ runId: run.id, key: "loss", step: -1, value: 0 })),
    ).toBe("23514");
    expect(
      await sqlState(t.db.insert(s.datasets).values({ name: "zero", kind: "prompts", requiredRankings: 0 })),
    ).toBe("23514");
    expect(
      await sqlState(t.db.insert(s.datasets).values({ name: "odd", kind: "images" as s.DatasetKind })),
    ).toBe("23514");
  });

  it("reject an example with neither text nor prompt, and a duplicate position", async () => {
    const [dataset] = await t.db.insert(s.datasets).values({ name: "corpus", kind: "text" }).returning();
    expect(await sqlState(t.db.insert(s.examples).values({ datasetId: dataset!.id, idx: 0 }))).toBe("23514");
    await t.db.insert(s.examples).values({ datasetId: dataset!.id, idx: 0, text: "hello" });
    expect(
      await sqlState(t.db.insert(s.examples).values({ datasetId: dataset!.id, idx: 0, text: "again" })),
    ).toBe("23505");
  });

  it("cascade a run's metrics, samples, logs and checkpoints when the run is deleted", async () => {
    const run = await makeRun("sft");
    await t.db.insert(s.metrics).values({ runId: run.id, key: "loss", step: 0, value: 1 });
    await t.db.insert(s.samples).values({ runId: run.id, step: 0, prompt: "p", response: "r" });
    await t.db.insert(s.runLogs).values({ runId: run.id, message: "hello" });
    await t.db.insert(s.checkpoints).values({ runId: run.id, step: 0, path: "ckpt" });
    await t.db.delete(s.runs).where(eq(s.runs.id, run.id));
    const left = await t.pool.query(
      `select (select count(*) from metrics where run_id = $1) + (select count(*) from samples where run_id = $1)
        + (select count(*) from run_logs where run_id = $1) + (select count(*) from checkpoints where run_id = $1) as n`,
      [run.id],
    );
    expect(Number(left.rows[0].n)).toBe(0);
  });

  it("refuse to delete a run another run was built from", async () => {
    const parent = await makeRun("sft");
    const child = await makeRun("reward");
    await t.db.insert(s.runInputs).values({ runId: child.id, parentRunId: parent.id, role: "checkpoint" });
    expect(await sqlState(t.db.delete(s.runs).where(eq(s.runs.id, parent.id)))).toBe("23001"); // restrict_violation
    expect(
      await sqlState(
        t.db.insert(s.runInputs).values({ runId: child.id, parentRunId: child.id, role: "checkpoint" }),
      ),
    ).toBe("23514");
  });

  it("has the indexes the apps' queries use", async () => {
    const { rows } = await t.db.execute<{ indexname: string }>(
      sql`select indexname from pg_indexes where schemaname = 'public'`,
    );
    const names = rows.map((r) => r.indexname);
    expect(names).toEqual(
      expect.arrayContaining([
        "metrics_run_id_key_step_pk",
        "samples_run_step_idx",
        "run_logs_run_idx",
        "comparison_tasks_open_idx",
      ]),
    );
  });
});
