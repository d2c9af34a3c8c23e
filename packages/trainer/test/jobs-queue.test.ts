/**
 * The queue's transitions on real PostgreSQL, without job processes: launch, invalid configs, cancel of a
 * queued run, claims by competing workers, heartbeats, the reaper and pipelines.
 */
import { ConfigError } from "@rlhf/core/configs";
import {
  cancelRun,
  claimRun,
  heartbeat,
  launchPipeline,
  launchRun,
  queueFor,
  type RunQueue,
  reapStaleRuns,
  recoverOwnRuns,
  settleAttempt,
} from "@rlhf/core/queue";
import { runInputs, runLogs, runs } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { eq, sql } from "drizzle-orm";

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

let t: TestDatabase;
let boss: RunQueue;
const w1 = { workerId: "w1", workerHost: "host-a" };
const w2 = { workerId: "w2", workerHost: "host-b" };
const tiny = { maxSteps: 5 };

beforeAll(async () => {
  t = await createTestDatabase();
  boss = await queueFor(t);
});
afterAll(async () => t?.drop());
beforeEach(async () => {
  // Each test starts with an empty queue.
  await t.pool.query("delete from pgboss.job");
  await t.pool.query("delete from run_inputs");
  await t.pool.query("delete from runs");
});

async function jobOf(runId: string) {
  const { rows } = await t.pool.query(
    "select j.id, j.state, j.data, j.start_after > now() as deferred from pgboss.job j join runs r on r.job_id::uuid = j.id where r.id = $1",
    [runId],
  );
  return rows[0] as {
    id: string;
    state: string;
    data: { runId: string; failures: number };
    deferred: boolean;
  };
}

async function runRow(id: string) {
  const [row] = await t.db.select().from(runs).where(eq(runs.id, id));
  return row!;
}

const counts = async () => {
  const { rows } = await t.pool.query(
    "select (select count(*)::int from runs) as runs, (select count(*)::int from pgboss.job) as jobs",
  );
  return rows[0] as { runs: number; jobs: number };
};

describe("launch", () => {
  it("creates the run (queued, validated config with defaults) and its job together", async () => {
    const launched = await launchRun(t, { kind: "pretrain", config: tiny, name: "first" });
    const run = await runRow(launched.id);
    expect(run).toMatchObject({ name: "first", kind: "pretrain", status: "queued", jobId: launched.jobId });
    expect(run.config).toMatchObject({ maxSteps: 5, batchSize: 16, dataset: "demo-corpus" });
    const job = await jobOf(launched.id);
    expect(job).toMatchObject({
      id: launched.jobId,
      state: "created",
      data: { runId: launched.id, failures: 0 },
    });
  });

  it("rejects an invalid config with the field and the reason, and creates nothing", async () => {
    const attempt = launchRun(t, { kind: "pretrain", config: { maxSteps: -1, batchSize: "big" } });
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    const error = (await attempt.catch((e) => e)) as ConfigError;
    expect(error.issues.map((i) => i.path).sort()).toEqual(["batchSize", "maxSteps"]);
    expect(error.message).toMatch(/maxSteps: .*(>=|greater|at least)/i);
    expect(await counts()).toEqual({ runs: 0, jobs: 0 });

    const unknownInput = launchRun(t, { kind: "sft", config: { init: "run:no-such-run" } });
    await expect(unknownInput).rejects.toThrow(/init: run:no-such-run matches no run/);
    await expect(launchRun(t, { kind: "nonsense" as never, config: {} })).rejects.toThrow(
      /kind: unknown job kind/,
    );
    expect(await counts()).toEqual({ runs: 0, jobs: 0 });
  });

  it("a pipeline whose third step is invalid creates none of its runs", async () => {
    const attempt = launchPipeline(t, [
      { kind: "pretrain", config: tiny },
      { kind: "sft", config: { init: "run:pretrain" } },
      { kind: "sft", key: "sft2", config: { init: "run:pretrain", maxSteps: 0 } },
    ]);
    await expect(attempt).rejects.toThrow(/sft2\.maxSteps/);
    const later = launchPipeline(t, [
      { kind: "sft", config: { init: "run:pretrain" } },
      { kind: "pretrain", config: {} },
    ]);
    await expect(later).rejects.toThrow(/sft\.init: run:pretrain is this step or a later one/);
    expect(await counts()).toEqual({ runs: 0, jobs: 0 });
  });
});

describe("claims", () => {
  it("two workers claiming ten runs at once: each run goes to exactly one of them", async () => {
    const launched = await Promise.all(
      Array.from({ length: 10 }, (_, i) => launchRun(t, { kind: "pretrain", config: tiny, name: `r${i}` })),
    );
    const claimed: string[] = [];
    const drain = async (identity: typeof w1) => {
      for (;;) {
        const claim = await claimRun(t, boss, identity);
        if (!claim) return;
        claimed.push(claim.run.id);
      }
    };
    await Promise.all([drain(w1), drain(w2), drain(w1), drain(w2)]);
    expect(claimed.sort()).toEqual(launched.map((l) => l.id).sort());
    const rows = await t.db.select().from(runs);
    expect(rows.every((r) => r.status === "running" && r.heartbeatAt && r.workerHost)).toBe(true);
  });

  it("heartbeats keep held runs alive and report cancels and runs taken away", async () => {
    const a = await launchRun(t, { kind: "pretrain", config: tiny });
    const b = await launchRun(t, { kind: "pretrain", config: tiny });
    const ca = (await claimRun(t, boss, w1))!;
    const cb = (await claimRun(t, boss, w1))!;
    await t.pool.query("update runs set heartbeat_at = now() - interval '1 hour'");
    await cancelRun(t, a.id);
    await t.db.update(runs).set({ workerId: "w2" }).where(eq(runs.id, b.id));
    const states = await heartbeat(t, "w1", [
      { runId: ca.run.id, jobId: ca.jobId },
      { runId: cb.run.id, jobId: cb.jobId },
    ]);
    expect(states).toEqual([
      { runId: a.id, status: "running", owned: true, cancelRequested: true },
      { runId: b.id, status: "running", owned: false, cancelRequested: false },
    ]);
    const fresh = await t.pool.query("select id from runs where heartbeat_at > now() - interval '1 minute'");
    expect(fresh.rows.map((r) => r.id)).toEqual([a.id]);
  });
});

describe("cancel", () => {
  it("a queued run is cancelled at once and its job withdrawn", async () => {
    const launched = await launchRun(t, { kind: "pretrain", config: tiny });
    const result = await cancelRun(t, launched.name);
    expect(result).toMatchObject({ id: launched.id, status: "cancelled", outcome: "cancelled" });
    expect((await runRow(launched.id)).finishedAt).toBeInstanceOf(Date);
    expect((await jobOf(launched.id)).state).toBe("cancelled");
    expect(await claimRun(t, boss, w1)).toBeNull();
    expect(await cancelRun(t, launched.id)).toMatchObject({ outcome: "finished", status: "cancelled" });
  });

  it("a running run gets a cancel request; a dead worker's cancelled run is closed by the reaper", async () => {
    const launched = await launchRun(t, { kind: "pretrain", config: tiny });
    await claimRun(t, boss, w1);
    expect(await cancelRun(t, launched.id)).toMatchObject({ outcome: "requested", status: "running" });
    expect((await runRow(launched.id)).cancelRequestedAt).toBeInstanceOf(Date);
    await t.pool.query("update runs set heartbeat_at = now() - interval '1 hour'");
    const reaped = await reapStaleRuns(t, boss, { staleAfterSeconds: 5, maxAttempts: 3 });
    expect(reaped).toEqual([{ runId: launched.id, name: launched.name, outcome: "cancelled" }]);
  });
});

describe("crash recovery", () => {
  it("a run whose worker stopped heartbeating is re-queued as an interruption, not a failure; failed after maxInterruptions", async () => {
    const launched = await launchRun(t, { kind: "pretrain", config: tiny });
    const reap = { staleAfterSeconds: 30, maxAttempts: 1, maxInterruptions: 3 };
    for (let attempt = 1; attempt <= 3; attempt++) {
      const claim = (await claimRun(t, boss, attempt % 2 ? w1 : w2))!;
      expect(claim.run.id).toBe(launched.id);
      // Lost workers are not the run's failures: maxAttempts 1 would have failed it at the first.
      expect(claim).toMatchObject({ failures: 0, interruptions: attempt - 1 });
      // A live heartbeat is left alone.
      expect(await reapStaleRuns(t, boss, reap)).toEqual([]);
      await t.pool.query("update runs set heartbeat_at = now() - interval '31 seconds'");
      const [reaped] = await reapStaleRuns(t, boss, reap);
      expect(reaped!.outcome).toBe(attempt < 3 ? "requeued" : "failed");
      const { rows } = await t.pool.query("select state from pgboss.job where id = $1", [claim.jobId]);
      expect(rows[0].state).toBe("failed");
    }
    const run = await runRow(launched.id);
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(
      /^interrupted 3 times: worker w1 on host-a stopped heartbeating \(last heartbeat 3\d s ago\)/,
    );
    const logs = await t.db.select().from(runLogs).where(eq(runLogs.runId, launched.id));
    expect(logs.filter((l) => l.message.startsWith("attempt interrupted"))).toHaveLength(3);
    expect(logs.filter((l) => l.message.startsWith("attempt failed"))).toHaveLength(0);
  });

  it("settles a job process's exit: final state, shutdown hand-back, crash, lost run", async () => {
    const a = await launchRun(t, { kind: "pretrain", config: tiny });
    let claim = (await claimRun(t, boss, w1))!;
    const exit = { code: 0, signal: null };
    // The job process finished the run itself.
    await t.db.update(runs).set({ status: "succeeded" }).where(eq(runs.id, a.id));
    expect(await settleAttempt(t, boss, { ...ids(claim), workerId: "w1", exit, maxAttempts: 3 })).toBe(
      "succeeded",
    );
    expect(
      (await t.pool.query("select state from pgboss.job where id = $1", [claim.jobId])).rows[0].state,
    ).toBe("completed");

    // A shutdown: the job process checkpointed and set the run back to queued; a new job, no failure.
    const b = await launchRun(t, { kind: "pretrain", config: tiny });
    claim = (await claimRun(t, boss, w1))!;
    await t.db.update(runs).set({ status: "queued" }).where(eq(runs.id, b.id));
    expect(await settleAttempt(t, boss, { ...ids(claim), workerId: "w1", exit, maxAttempts: 3 })).toBe(
      "requeued",
    );
    expect(await jobOf(b.id)).toMatchObject({ state: "created", data: { failures: 0 } });

    // A crash (the process died while the run was running): a failed attempt with the exit and the log tail.
    claim = (await claimRun(t, boss, w2))!;
    const crash = { code: null, signal: "SIGKILL", logTail: "step 3\nstep 4" };
    expect(await settleAttempt(t, boss, { ...ids(claim), workerId: "w2", exit: crash, maxAttempts: 2 })).toBe(
      "requeued",
    );
    expect(await runRow(b.id)).toMatchObject({
      status: "queued",
      logTail: "step 4".replace(/^/, "step 3\n"),
    });
    expect((await runRow(b.id)).error).toMatch(/killed by SIGKILL/);
    claim = (await claimRun(t, boss, w2))!;
    expect(await settleAttempt(t, boss, { ...ids(claim), workerId: "w2", exit: crash, maxAttempts: 2 })).toBe(
      "failed",
    );
    expect((await runRow(b.id)).error).toMatch(/^failed 2 times: job process was killed by SIGKILL/);

    // A run the reaper gave to someone else is not touched by the worker that lost it.
    const c = await launchRun(t, { kind: "pretrain", config: tiny });
    claim = (await claimRun(t, boss, w1))!;
    await t.pool.query("update runs set heartbeat_at = now() - interval '1 hour' where id = $1", [c.id]);
    await reapStaleRuns(t, boss, { staleAfterSeconds: 5, maxAttempts: 3 });
    expect(await settleAttempt(t, boss, { ...ids(claim), workerId: "w1", exit: crash, maxAttempts: 3 })).toBe(
      "lost",
    );
    expect((await runRow(c.id)).status).toBe("queued");
  });

  it("a worker restarted under the same id recovers its runs without waiting for the heartbeat", async () => {
    const launched = await launchRun(t, { kind: "pretrain", config: tiny });
    await claimRun(t, boss, w1);
    expect(await recoverOwnRuns(t, boss, "w2")).toEqual([]);
    expect(await recoverOwnRuns(t, boss, "w1")).toEqual([
      { runId: launched.id, name: launched.name, outcome: "requeued" },
    ]);
    expect(await claimRun(t, boss, w1)).toMatchObject({ failures: 0, interruptions: 1 });
  });

  it("a queued run whose job went missing gets a new one", async () => {
    const launched = await launchRun(t, { kind: "pretrain", config: tiny });
    await t.pool.query("delete from pgboss.job");
    expect(await reapStaleRuns(t, boss, { staleAfterSeconds: 5, maxAttempts: 3 })).toEqual([
      { runId: launched.id, name: launched.name, outcome: "resent" },
    ]);
    expect((await claimRun(t, boss, w1))?.run.id).toBe(launched.id);
  });
});

describe("pipelines", () => {
  it("a step starts when its input succeeded; the chain fails from a failed input down", async () => {
    const { pipelineId, runs: launched } = await launchPipeline(t, [
      { kind: "pretrain", config: tiny, name: "p" },
      { kind: "sft", config: { init: "run:pretrain", maxSteps: 3 }, name: "s" },
      { kind: "sft", key: "sft2", config: { init: "run:sft", maxSteps: 3 }, name: "s2" },
    ]);
    const [p, s, s2] = launched as [(typeof launched)[0], (typeof launched)[0], (typeof launched)[0]];
    expect(s.inputs).toEqual([{ parentRunId: p.id, role: "init" }]);
    expect((await runRow(s.id)).config.init).toBe(`run:${p.id}`);
    expect((await runRow(s2.id)).pipelineId).toBe(pipelineId);
    expect(await t.db.select().from(runInputs)).toHaveLength(2);

    // The worker gets the pretrain run; the SFT runs are deferred, not claimed.
    const claim = (await claimRun(t, boss, w1, { inputRecheckSeconds: 60 }))!;
    expect(claim.run.id).toBe(p.id);
    expect(await claimRun(t, boss, w2, { inputRecheckSeconds: 60 })).toBeNull();
    expect((await jobOf(s.id)).deferred).toBe(true);
    expect((await runRow(s.id)).status).toBe("queued");

    // Pretraining succeeds: SFT is woken at once (not after the 60 s recheck); the second SFT still waits.
    await t.db.update(runs).set({ status: "succeeded" }).where(eq(runs.id, p.id));
    await settleAttempt(t, boss, {
      ...ids(claim),
      workerId: "w1",
      exit: { code: 0, signal: null },
      maxAttempts: 3,
    });
    expect((await jobOf(s.id)).deferred).toBe(false);
    const next = (await claimRun(t, boss, w2, { inputRecheckSeconds: 60 }))!;
    expect(next.run.id).toBe(s.id);
    expect(await claimRun(t, boss, w2, { inputRecheckSeconds: 60 })).toBeNull();

    // SFT fails: the second SFT fails with the reason.
    await t.db.update(runs).set({ status: "failed", error: "dataset is empty" }).where(eq(runs.id, s.id));
    await settleAttempt(t, boss, {
      ...ids(next),
      workerId: "w2",
      exit: { code: 0, signal: null },
      maxAttempts: 3,
    });
    expect(await runRow(s2.id)).toMatchObject({
      status: "failed",
      error: "input run s failed: dataset is empty",
    });
    expect((await jobOf(s2.id)).state).toBe("failed");
  });

  it("cancelling a queued input fails the runs waiting for it; a later run can use an existing one", async () => {
    const { runs: launched } = await launchPipeline(t, [
      { kind: "pretrain", config: tiny, name: "p2" },
      { kind: "sft", config: { init: "run:pretrain" }, name: "s3" },
    ]);
    await cancelRun(t, "p2");
    expect(await runRow(launched[1]!.id)).toMatchObject({
      status: "failed",
      error: "input run p2 was cancelled",
    });
    await expect(launchRun(t, { kind: "sft", config: { init: "run:p2" } })).rejects.toThrow(
      /init: input run p2 cancelled/,
    );

    const base = await launchRun(t, { kind: "pretrain", config: tiny, name: "base" });
    const sft = await launchRun(t, { kind: "sft", config: { init: "run:base" } });
    expect(sft.inputs).toEqual([{ parentRunId: base.id, role: "init" }]);
    const first = (await claimRun(t, boss, w1))!;
    expect(first.run.id).toBe(base.id);
    await t.pool.query("update runs set status = 'succeeded' where id = $1", [base.id]);
    // Even without the worker settling (it died), the deferred job finds the input done when it comes up.
    await t.pool.query("update pgboss.job set start_after = now() where data->>'runId' = $1", [sft.id]);
    expect(await claimRun(t, boss, w1)).toMatchObject({ run: { id: sft.id } });
    expect(
      (await t.db.execute(sql`select count(*)::int as n from runs where status = 'running'`)).rows[0],
    ).toEqual({ n: 1 });
  });
});

function ids(claim: { run: { id: string }; jobId: string }) {
  return { runId: claim.run.id, jobId: claim.jobId };
}
