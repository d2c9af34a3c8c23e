/**
 * Workers as real processes on real PostgreSQL, running the real pretraining trainer (a tiny model):
 * success, kill -9 and resume, cancel, SIGTERM hand-back, two workers sharing a queue, a job that throws,
 * and the CLI's launch of an invalid config.
 */
import { existsSync } from "node:fs";
import { cancelRun, launchRun } from "@rlhf/core/queue";
import { checkpoints, runLogs, runs } from "@rlhf/core/schema";
import type { TestDatabase } from "@rlhf/core/testing";
import { asc, desc, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import {
  fixture,
  isAlive,
  runCli,
  startWorker,
  tinyPretrain,
  waitFor,
  workerTestDatabase,
} from "./fixtures/processes";

let t: TestDatabase;
const { runRow } = workerTestDatabase((database) => {
  t = database;
});

const statusIs =
  (id: string, ...statuses: string[]) =>
  async () => {
    const row = await runRow(id);
    return statuses.includes(row.status) ? row : undefined;
  };

async function lossSteps(runId: string): Promise<number[]> {
  const { rows } = await t.pool.query(
    "select step from metrics where run_id = $1 and key = 'loss' order by step",
    [runId],
  );
  return rows.map((r) => Number(r.step));
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("rlhf worker", () => {
  it("launch → a worker runs it → succeeded, with metrics, samples, logs and checkpoints recorded", async () => {
    const launched = await launchRun(t, { kind: "pretrain", config: tinyPretrain(), name: "ok" });
    const worker = startWorker(t.url, "w-ok");
    const done = await waitFor(statusIs(launched.id, "succeeded", "failed"), {
      timeoutMs: 120_000,
      what: "the run to finish",
      detail: worker.output,
    });
    expect(done.error).toBeNull();
    expect(done).toMatchObject({ status: "succeeded", workerId: "w-ok", attempts: 1, totalSteps: 30 });
    expect(done.backend).toMatch(/wasm|cpu|tensorflow/);
    expect(done.workerHost).toBeTruthy();
    expect(done.startedAt!.getTime()).toBeLessThanOrEqual(done.finishedAt!.getTime());

    expect(await lossSteps(launched.id)).toEqual(range(1, 30));
    const saved = await t.db
      .select()
      .from(checkpoints)
      .where(eq(checkpoints.runId, launched.id))
      .orderBy(asc(checkpoints.step));
    expect(saved.map((c) => c.step)).toEqual([5, 10, 15, 20, 25, 30]);
    expect(saved.at(-1)!.isFinal).toBe(true);
    expect(existsSync(saved.at(-1)!.path)).toBe(true);
    const samples = await t.pool.query("select count(*)::int as n from samples where run_id = $1", [
      launched.id,
    ]);
    expect(samples.rows[0].n).toBeGreaterThan(0);
    const logs = await t.db.select().from(runLogs).where(eq(runLogs.runId, launched.id));
    expect(logs.some((l) => /pretrain run ok on/.test(l.message))).toBe(true);
    // The run row says succeeded as the job process ends; the queue job is completed when the worker has
    // settled it, a moment later.
    await worker.waitForEvent(
      (e) => e.type === "settled" && e.runId === launched.id,
      10_000,
      "the settled event",
    );
    const job = await t.pool.query("select state from pgboss.job where id = $1", [launched.jobId]);
    expect(job.rows[0].state).toBe("completed");
  });

  it("kill -9 the worker mid-run → another worker resumes from the checkpoint; no duplicate points, steps continue", async () => {
    const launched = await launchRun(t, {
      kind: "pretrain",
      config: tinyPretrain({ maxSteps: 1500, checkpointEvery: 5, evalEvery: 500 }),
      name: "crash",
    });
    const first = startWorker(t.url, "w-crash-1", ["--poll", "500"]);
    // Wait for a checkpoint or two, then kill the worker (not its job process: that one must notice alone).
    await waitFor(
      async () => {
        const rows = await t.db.select().from(checkpoints).where(eq(checkpoints.runId, launched.id));
        return rows.length >= 2;
      },
      { timeoutMs: 120_000, what: "two checkpoints", detail: first.output },
    );
    const jobProcess = first.events.find((e) => e.type === "claimed");
    expect(jobProcess).toBeTruthy();
    first.process.kill("SIGKILL");
    await first.exited;
    const beforeRestart = await runRow(launched.id);
    expect(beforeRestart.status).toBe("running");
    const lastCheckpoint = Math.max(
      ...(await t.db.select().from(checkpoints).where(eq(checkpoints.runId, launched.id))).map((c) => c.step),
    );
    // The orphaned job process exits once its worker's IPC channel closes; no one writes to the run now.
    await waitFor(
      async () => {
        const { rows } = await t.pool.query("select max(wall_time) as last from metrics where run_id = $1", [
          launched.id,
        ]);
        return Date.now() - new Date(rows[0].last).getTime() > 1500;
      },
      { timeoutMs: 15_000, what: "the orphaned job process to stop writing" },
    );
    const quietAt = new Date();
    const orphanCheckpoint = Math.max(
      ...(await t.db.select().from(checkpoints).where(eq(checkpoints.runId, launched.id))).map((c) => c.step),
    );

    const second = startWorker(t.url, "w-crash-2", ["--poll", "500", "--stale-after", "3"]);
    const done = await waitFor(statusIs(launched.id, "succeeded", "failed"), {
      timeoutMs: 180_000,
      what: "the resumed run to finish",
      detail: second.output,
    });
    expect(done.error).toBeNull();
    expect(done).toMatchObject({ status: "succeeded", workerId: "w-crash-2", attempts: 2 });

    // The resumed attempt started after the last checkpoint the killed one had written, and continued from there.
    const resumedFrom = Math.max(lastCheckpoint, orphanCheckpoint);
    const logs = await t.db
      .select()
      .from(runLogs)
      .where(eq(runLogs.runId, launched.id))
      .orderBy(asc(runLogs.id));
    expect(logs.map((l) => l.message)).toContainEqual(
      expect.stringMatching(`resuming from step ${resumedFrom}$`),
    );
    expect(logs.map((l) => l.message)).toContainEqual(
      expect.stringMatching(
        /attempt interrupted \(1 of at most 10; not counted as a failure\): worker w-crash-1 on .* stopped heartbeating/,
      ),
    );
    const { rows } = await t.pool.query(
      "select min(step)::int as first from metrics where run_id = $1 and key = 'loss' and wall_time > $2",
      [launched.id, quietAt],
    );
    expect(rows[0].first).toBe(resumedFrom + 1);
    expect(isAlive(Number((jobProcess as { pid?: number }).pid ?? 0))).toBe(false);
    // The curve: every step once, 1..1500 — the primary key holds (the resumed attempt rewrote the steps
    // after its checkpoint, never duplicating them), and nothing before the checkpoint is missing.
    expect(await lossSteps(launched.id)).toEqual(range(1, 1500));
  });

  it("cancel mid-run → cancelled within 5 s, keeping its last checkpoint", async () => {
    const launched = await launchRun(t, {
      kind: "pretrain",
      // No periodic checkpoint within reach: the one checkpoint is the one the cancel writes, and nothing
      // but the job's own progress turns lets the progress row and the cancel message through (a loop of
      // synchronous tensor work that only yielded at checkpoints never reached step 3 here).
      config: tinyPretrain({ maxSteps: 100_000, checkpointEvery: 100_000, evalEvery: 1000 }),
      name: "cancel-me",
    });
    const worker = startWorker(t.url, "w-cancel");
    await waitFor(async () => (await runRow(launched.id)).step >= 3, {
      timeoutMs: 120_000,
      what: "the run to reach step 3",
      detail: worker.output,
    });
    const requested = Date.now();
    expect(await cancelRun(t, launched.name)).toMatchObject({ outcome: "requested" });
    const done = await waitFor(statusIs(launched.id, "cancelled", "failed", "succeeded"), {
      timeoutMs: 10_000,
      intervalMs: 100,
      what: "the cancel",
      detail: worker.output,
    });
    const seconds = (Date.now() - requested) / 1000;
    expect(done.status).toBe("cancelled");
    expect(seconds).toBeLessThan(5);
    const saved = await t.db.select().from(checkpoints).where(eq(checkpoints.runId, launched.id));
    expect(saved).toHaveLength(1);
    expect(saved[0]!.step).toBeGreaterThanOrEqual(3);
    expect(existsSync(saved[0]!.path)).toBe(true);
    // The worker carries on, ready for the next job.
    expect(worker.process.exitCode).toBeNull();
  });

  it("SIGTERM: the worker checkpoints its running job, hands it back to the queue and exits", async () => {
    const launched = await launchRun(t, {
      kind: "pretrain",
      config: tinyPretrain({ maxSteps: 100_000, checkpointEvery: 1000, evalEvery: 1000 }),
      name: "shutdown",
    });
    const worker = startWorker(t.url, "w-term");
    await waitFor(async () => (await runRow(launched.id)).step >= 3, {
      timeoutMs: 120_000,
      what: "the run to reach step 3",
      detail: worker.output,
    });
    worker.process.kill("SIGTERM");
    const exit = await Promise.race([
      worker.exited,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`worker did not exit:\n${worker.output()}`)), 30_000),
      ),
    ]);
    expect(exit).toEqual({ code: 0, signal: null });
    const run = await runRow(launched.id);
    expect(run.status).toBe("queued");
    // The shutdown checkpoint is the last one, at the step where the trainer stopped.
    const saved = await t.db
      .select()
      .from(checkpoints)
      .where(eq(checkpoints.runId, launched.id))
      .orderBy(desc(checkpoints.step));
    expect(saved[0]!.step).toBeGreaterThanOrEqual(3);
    expect(saved[0]!.isFinal).toBe(false);
    const job = await t.pool.query("select state, data from pgboss.job where id = $1", [run.jobId]);
    expect(job.rows[0]).toEqual({ state: "created", data: { runId: launched.id, failures: 0 } });

    // It is not lost: the next worker resumes it (and here it is cancelled once it runs).
    const next = startWorker(t.url, "w-term-2");
    await waitFor(
      async () => {
        const { rows } = await t.pool.query("select 1 from run_logs where run_id = $1 and message like $2", [
          launched.id,
          `%resuming from step ${saved[0]!.step}`,
        ]);
        return rows.length > 0;
      },
      { timeoutMs: 120_000, what: "the run to resume from its shutdown checkpoint", detail: next.output },
    );
    expect((await runRow(launched.id)).attempts).toBe(2);
    await cancelRun(t, launched.id);
    await waitFor(statusIs(launched.id, "cancelled"), { timeoutMs: 10_000, what: "the cancel" });
  });

  it("two workers, ten short jobs: each runs exactly once", async () => {
    const config = tinyPretrain({ maxSteps: 2, checkpointEvery: 100, evalEvery: 100, samplePrompts: [] });
    const launched = [];
    for (let i = 0; i < 10; i++)
      launched.push(await launchRun(t, { kind: "pretrain", config, name: `short-${i}` }));
    const workers = [
      startWorker(t.url, "w-a", ["--poll", "300"]),
      startWorker(t.url, "w-b", ["--poll", "300"]),
    ];
    const ids = launched.map((l) => l.id);
    await waitFor(
      async () => {
        const { rows } = await t.pool.query(
          "select count(*)::int as n from runs where id = any($1) and status in ('succeeded', 'failed')",
          [ids],
        );
        return rows[0].n === 10;
      },
      {
        timeoutMs: 240_000,
        intervalMs: 500,
        what: "ten runs to finish",
        detail: () => workers.map((w) => w.output()).join("\n---\n"),
      },
    );
    const rows = await t.db.select().from(runs);
    const ours = rows.filter((r) => ids.includes(r.id)).sort((a, b) => a.name.localeCompare(b.name));
    expect(ours.map((r) => [r.name, r.status, r.attempts])).toEqual(
      launched.map((l) => [l.name, "succeeded", 1]),
    );
    // Each run was claimed once, by one of the two workers.
    const claims = workers.flatMap((w) =>
      w.events.filter((e) => e.type === "claimed").map((e) => e.runId as string),
    );
    expect(claims.sort()).toEqual([...ids].sort());
    const starts = await t.pool.query(
      "select run_id, count(*)::int as n from run_logs where run_id = any($1) and message like 'pretrain run % on %' group by run_id",
      [ids],
    );
    expect(starts.rows.every((r) => r.n === 1)).toBe(true);
    expect(starts.rows).toHaveLength(10);
  });

  it("a job whose code throws fails with the message; an invalid config is rejected by `rlhf launch`", async () => {
    const launched = await launchRun(t, {
      kind: "pretrain",
      config: tinyPretrain({ dataset: "no-such-dataset" }),
      name: "throws",
    });
    const worker = startWorker(t.url, "w-throw");
    const done = await waitFor(statusIs(launched.id, "succeeded", "failed"), {
      timeoutMs: 60_000,
      what: "the run to fail",
      detail: worker.output,
    });
    expect(done.status).toBe("failed");
    expect(done.error).toMatch(/no-such-dataset/);
    expect(done.logTail).toMatch(/no-such-dataset/);
    expect(done.attempts).toBe(1);

    const before = await t.pool.query("select count(*)::int as n from runs");
    const rejected = await runCli(t.url, [
      "launch",
      "pretrain",
      "--config",
      fixture("pretrain-invalid.json"),
    ]);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toMatch(/pretrain-invalid\.json: invalid pretrain config:/);
    expect(rejected.stderr).toMatch(/maxSteps: /);
    expect(rejected.stderr).toMatch(/model\.nEmbd: /);
    const after = await t.pool.query("select count(*)::int as n from runs");
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });
});
