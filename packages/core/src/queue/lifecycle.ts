/**
 * The transitions of a run around its job process, as workers make them:
 *
 *   queued ──claim──▶ running ──▶ succeeded | failed | cancelled      (written by the job process)
 *     ▲                  │
 *     └── re-queue ◀─────┘  worker shutdown or database outage (checkpointed, handed back by the job
 *                           process); an interruption — a lost or restarted worker, a job process that
 *                           could not reach the database — counted apart (`maxInterruptions`); a crash of
 *                           the job process, a failed attempt (`maxAttempts`)
 *
 * The job process's own writes (those marked above: running, progress, the final state, the hand-back) are
 * ./attempt.ts; runs are created by ./launch.ts (`launchRun`, `launchPipeline`, or `createRun` for a run
 * executed in-process without a job). Everything else a run goes through is here.
 *
 * Each transition is one transaction that locks the run's row and replaces or closes its pg-boss job, so
 * the row and the queue never disagree. A job whose id is not the run's `job_id` any more is stale (its
 * attempt was replaced) and is closed without effect. Locks are taken run row first, then job rows —
 * except by `claimRun`, which gets its job first and therefore never waits for a run row (SKIP LOCKED).
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type PgBoss from "pg-boss";
import type { Database } from "../db/open";
import { type RunStatus, runInputs, runLogs, runs } from "../db/schema";
import {
  BOSS_SCHEMA,
  bossExecutor,
  closeRunJob,
  RUN_QUEUE,
  RUN_QUEUES,
  type RunJobData,
  type RunQueueName,
  runJobData,
  SERVE_QUEUE,
  sendRunJob,
} from "./boss";
import type { RunRecord } from "./refs";
import { type Tx, transaction } from "./tx";

export interface WorkerIdentity {
  workerId: string;
  workerHost: string;
}

export interface Claim {
  run: RunRecord;
  jobId: string;
  /** Failed attempts before this one. */
  failures: number;
  /** Attempts before this one that the infrastructure cut short (not counted as failures). */
  interruptions: number;
}

type Final = Extract<RunStatus, "succeeded" | "failed" | "cancelled">;

/** Sentinel: the run's row is busy (a cancel or a re-queue holds it); put the job back and try later. */
class RunBusy extends Error {}

/**
 * Take the next deliverable run from `queue` (training runs by default; SERVE_QUEUE for serve runs) and
 * mark it running for this worker, or null when none is ready. Runs cancelled while queued are closed
 * here; runs whose inputs have not succeeded yet are deferred by `inputRecheckSeconds` (and woken early
 * when an input finishes); runs whose inputs failed fail.
 */
export async function claimRun(
  database: Database,
  boss: PgBoss,
  identity: WorkerIdentity,
  options: { inputRecheckSeconds?: number; queue?: RunQueueName } = {},
): Promise<Claim | null> {
  const queue = options.queue ?? RUN_QUEUE;
  // Stale and deferred jobs are consumed without a claim; keep looking, but never spin.
  for (let tries = 0; tries < 20; tries++) {
    let result: { claim: Claim | null; again: boolean };
    try {
      result = await transaction(database, async (tx) => {
        const [job] = await boss.fetch<RunJobData>(queue, { batchSize: 1, db: bossExecutor(tx.client) });
        if (!job) return { claim: null, again: false };
        const runId = job.data?.runId;
        const [run] = runId
          ? await tx.db.select().from(runs).where(eq(runs.id, runId)).for("update", { skipLocked: true })
          : [];
        if (runId && !run) {
          const exists = await tx.client.query("select 1 from runs where id = $1", [runId]);
          if (exists.rowCount) throw new RunBusy();
        }
        if (run?.status !== "queued" || run.jobId !== job.id) {
          await closeRunJob(boss, tx.client, { jobId: job.id, kind: kindOfQueue(queue) }, "complete");
          return { claim: null, again: true };
        }
        if (run.cancelRequestedAt) {
          await finishRun(tx, boss, run, "cancelled");
          return { claim: null, again: true };
        }
        const gate = await inputGate(tx, run.id);
        if (gate.failed) {
          await finishRun(tx, boss, run, "failed", { error: gate.failed });
          return { claim: null, again: true };
        }
        if (gate.waiting) {
          const counts = await runJobData(tx.client, run.id, job.id);
          await requeue(tx, boss, run, counts, options.inputRecheckSeconds ?? 30);
          return { claim: null, again: true };
        }
        const [claimed] = await tx.db
          .update(runs)
          .set({
            status: "running",
            workerId: identity.workerId,
            workerHost: identity.workerHost,
            heartbeatAt: sql`now()`,
            startedAt: sql`coalesce(${runs.startedAt}, now())`,
          })
          .where(eq(runs.id, run.id))
          .returning();
        const claim: Claim = {
          run: claimed!,
          jobId: job.id,
          failures: job.data.failures ?? 0,
          interruptions: job.data.interruptions ?? 0,
        };
        return { claim, again: false };
      });
    } catch (error) {
      if (error instanceof RunBusy) return null;
      throw error;
    }
    if (!result.again) return result.claim;
  }
  return null;
}

export interface HeartbeatState {
  runId: string;
  status: RunStatus | "missing";
  /** This worker still holds the run (running, its id, the same job): keep going. */
  owned: boolean;
  cancelRequested: boolean;
}

/** Beat for the runs this worker holds, and read whether any was cancelled or taken away from it. */
export async function heartbeat(
  database: Database,
  workerId: string,
  held: { runId: string; jobId: string }[],
): Promise<HeartbeatState[]> {
  if (held.length === 0) return [];
  const ids = held.map((h) => h.runId);
  const { rows } = await database.pool.query<{
    id: string;
    status: RunStatus;
    worker_id: string | null;
    job_id: string | null;
    cancel_requested_at: Date | null;
  }>(
    `with beat as (
       update runs set heartbeat_at = now()
       where id = any($1::uuid[]) and worker_id = $2 and status = 'running'
       returning id
     )
     select r.id, r.status, r.worker_id, r.job_id, r.cancel_requested_at
     from runs r where r.id = any($1::uuid[])`,
    [ids, workerId],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  return held.map(({ runId, jobId }) => {
    const row = byId.get(runId);
    if (!row) return { runId, status: "missing", owned: false, cancelRequested: false };
    const takenAway = row.job_id !== jobId || (row.status === "running" && row.worker_id !== workerId);
    return {
      runId,
      status: row.status,
      owned: !takenAway,
      cancelRequested: row.cancel_requested_at !== null,
    };
  });
}

/** How a job process ended, as its worker saw it. */
export interface AttemptExit {
  code: number | null;
  signal: string | null;
  /** Why the worker stopped it, if it did: a cancel or a shutdown that outlasted its grace period. */
  stoppedFor?: "cancel" | "shutdown";
  /** The last lines the process printed (kept with a failure). */
  logTail?: string;
  /**
   * Why the attempt stopped for a reason outside the run (the job process could not reach the database):
   * it is re-queued without counting against `maxAttempts`.
   */
  interrupted?: string;
}

export type AttemptOutcome = Final | "requeued" | "lost";

/**
 * Settle a run after its job process exited. A process that reached a final state (or re-queued itself
 * for a shutdown) only needs its job closed; one that died while running is a failed attempt: re-queued,
 * or failed for good after `maxAttempts` failures.
 */
export async function settleAttempt(
  database: Database,
  boss: PgBoss,
  options: {
    runId: string;
    jobId: string;
    workerId: string;
    exit: AttemptExit;
    maxAttempts: number;
    maxInterruptions?: number;
  },
): Promise<AttemptOutcome> {
  const { runId, jobId, workerId, exit } = options;
  return transaction(database, async (tx) => {
    const [run] = await tx.db.select().from(runs).where(eq(runs.id, runId)).for("update");
    if (!run || run.jobId !== jobId) return "lost";
    const data = await runJobData(tx.client, run.id, jobId);
    if (run.status === "queued") {
      // The job process checkpointed and handed the run back (worker shutdown): a new job, no failure.
      await requeue(tx, boss, run, data);
      return "requeued";
    }
    if (run.status !== "running") {
      await closeRunJob(boss, tx.client, { jobId, kind: run.kind }, jobClosing(run.status as Final));
      await settleDependents(tx, boss, run.id);
      return run.status as Final;
    }
    if (run.workerId !== workerId) return "lost";
    if (exit.stoppedFor === "cancel" || run.cancelRequestedAt) {
      await log(tx, run.id, "cancelled: the job process did not stop in time and was killed", "warn");
      await finishRun(tx, boss, run, "cancelled");
      return "cancelled";
    }
    if (exit.interrupted) {
      return countAttempt(tx, boss, run, data, exit.interrupted, {
        kind: "interruption",
        max: options.maxInterruptions,
      });
    }
    if (exit.stoppedFor === "shutdown") {
      await log(
        tx,
        run.id,
        "worker shutdown: the job process did not stop in time and was killed; re-queued",
      );
      await requeue(tx, boss, run, data);
      return "requeued";
    }
    return countAttempt(tx, boss, run, data, `job process ${describeExit(exit)}`, {
      kind: "failure",
      max: options.maxAttempts,
      logTail: exit.logTail,
    });
  });
}

export interface ReapOptions {
  /** A running run whose heartbeat is older than this has lost its worker. */
  staleAfterSeconds: number;
  maxAttempts: number;
  /** Lost workers after which a run is failed instead of re-queued (default MAX_INTERRUPTIONS). */
  maxInterruptions?: number;
}

/**
 * Interruptions (lost workers, a database out of reach) a run may have before it is failed: they are not
 * the run's fault, but a run that keeps taking its worker down with it (memory, say) must not loop forever.
 */
export const MAX_INTERRUPTIONS = 10;

/**
 * Every worker runs this now and then. Runs whose worker stopped heartbeating (killed, machine lost) are
 * re-queued to resume from their last checkpoint — an interruption, not a failure of the run; failed
 * after `maxInterruptions` of them; queued runs
 * whose job went missing get a new one. Rows another worker is reaping are skipped, never waited for.
 */
export async function reapStaleRuns(
  database: Database,
  boss: PgBoss,
  options: ReapOptions,
): Promise<{ runId: string; name: string; outcome: AttemptOutcome | "resent" }[]> {
  return transaction(database, async (tx) => {
    const reaped: { runId: string; name: string; outcome: AttemptOutcome | "resent" }[] = [];
    const stale = await tx.db
      .select()
      .from(runs)
      .where(
        and(
          eq(runs.status, "running"),
          sql`${runs.jobId} is not null`,
          sql`coalesce(${runs.heartbeatAt}, ${runs.startedAt}, ${runs.createdAt}) < now() - make_interval(secs => ${options.staleAfterSeconds})`,
        ),
      )
      .limit(50)
      .for("update", { skipLocked: true });
    for (const run of stale) {
      const data = await runJobData(tx.client, run.id, run.jobId);
      if (run.cancelRequestedAt) {
        await finishRun(tx, boss, run, "cancelled");
        reaped.push({ runId: run.id, name: run.name, outcome: "cancelled" });
        continue;
      }
      const seconds = run.heartbeatAt
        ? Math.round((Date.now() - run.heartbeatAt.getTime()) / 1000)
        : undefined;
      const reason =
        `worker ${run.workerId ?? "?"} on ${run.workerHost ?? "?"} stopped heartbeating` +
        (seconds !== undefined ? ` (last heartbeat ${seconds} s ago)` : "");
      const outcome = await countAttempt(tx, boss, run, data, reason, {
        kind: "interruption",
        max: options.maxInterruptions,
      });
      reaped.push({ runId: run.id, name: run.name, outcome });
    }

    // Queued runs without a pending job: a worker died between a shutdown hand-back and the new job.
    const { rows: orphans } = await tx.client.query<{ id: string }>(
      `select r.id from runs r
       where r.status = 'queued' and r.job_id is not null
         and not exists (
           select 1 from ${BOSS_SCHEMA}.job j
           where j.name = any($1::text[]) and j.id = r.job_id::uuid and j.state in ('created', 'retry')
         )
       limit 50
       for update of r skip locked`,
      [RUN_QUEUES],
    );
    for (const { id } of orphans) {
      const [run] = await tx.db.select().from(runs).where(eq(runs.id, id));
      const data = await runJobData(tx.client, id, run!.jobId);
      await requeue(tx, boss, run!, data);
      reaped.push({ runId: id, name: run!.name, outcome: "resent" });
    }
    return reaped;
  });
}

/**
 * A worker starting under an id it used before: runs still marked running under that id were left by its
 * previous life (killed, machine rebooted) and need not wait for their heartbeat to expire.
 */
export async function recoverOwnRuns(
  database: Database,
  boss: PgBoss,
  workerId: string,
  maxInterruptions = MAX_INTERRUPTIONS,
): Promise<{ runId: string; name: string; outcome: AttemptOutcome }[]> {
  return transaction(database, async (tx) => {
    const mine = await tx.db
      .select()
      .from(runs)
      .where(and(eq(runs.status, "running"), eq(runs.workerId, workerId), sql`${runs.jobId} is not null`))
      .for("update", { skipLocked: true });
    const recovered: { runId: string; name: string; outcome: AttemptOutcome }[] = [];
    for (const run of mine) {
      if (run.cancelRequestedAt) {
        await finishRun(tx, boss, run, "cancelled");
        recovered.push({ runId: run.id, name: run.name, outcome: "cancelled" });
        continue;
      }
      const data = await runJobData(tx.client, run.id, run.jobId);
      const reason = `worker ${workerId} restarted while running it`;
      const outcome = await countAttempt(tx, boss, run, data, reason, {
        kind: "interruption",
        max: maxInterruptions,
      });
      recovered.push({ runId: run.id, name: run.name, outcome });
    }
    return recovered;
  });
}

// ---------------------------------------------------------------------------------------------------
// Shared steps (inside a transaction that holds the run's row)
// ---------------------------------------------------------------------------------------------------

/**
 * An attempt that ended early, counted as what it was: a `failure` of the run (its job process crashed),
 * or an `interruption` by the infrastructure (a lost worker, a database out of reach), which does not
 * count against `maxAttempts`. Re-queued to resume from the last checkpoint, or failed for good once the
 * count reaches its limit (a run that keeps taking its worker down must not loop forever either).
 */
async function countAttempt(
  tx: Tx,
  boss: PgBoss,
  run: RunRecord,
  counts: RunJobData,
  reason: string,
  as: { kind: "failure"; max: number; logTail?: string } | { kind: "interruption"; max?: number },
): Promise<AttemptOutcome> {
  const failure = as.kind === "failure";
  const max = as.max ?? MAX_INTERRUPTIONS;
  const n = (failure ? counts.failures : (counts.interruptions ?? 0)) + 1;
  const logTail = failure ? as.logTail : undefined;
  await log(
    tx,
    run.id,
    failure
      ? `attempt failed (${n} of at most ${max}): ${reason}`
      : `attempt interrupted (${n} of at most ${max}; not counted as a failure): ${reason}`,
    failure ? "error" : "warn",
  );
  if (n >= max) {
    const times = failure ? `failed ${n} times` : `interrupted ${n} times`;
    await finishRun(tx, boss, run, "failed", {
      error: n > 1 || !failure ? `${times}: ${reason}` : reason,
      logTail,
      jobClosing: "fail",
    });
    return "failed";
  }
  await tx.db
    .update(runs)
    .set({ error: reason, ...(logTail ? { logTail } : {}) })
    .where(eq(runs.id, run.id));
  await requeue(
    tx,
    boss,
    run,
    { ...counts, ...(failure ? { failures: n } : { interruptions: n }) },
    0,
    "fail",
  );
  return "requeued";
}

/** Back to the queue with a new job carrying `counts` (the old one closed), optionally deferred. */
async function requeue(
  tx: Tx,
  boss: PgBoss,
  run: RunRecord,
  counts: Pick<RunJobData, "failures" | "interruptions">,
  delaySeconds = 0,
  oldJob: "complete" | "fail" = "complete",
): Promise<void> {
  const jobId = await sendRunJob(
    boss,
    tx.client,
    {
      runId: run.id,
      failures: counts.failures,
      ...(counts.interruptions ? { interruptions: counts.interruptions } : {}),
    },
    { kind: run.kind, startAfterSeconds: delaySeconds },
  );
  await closeRunJob(boss, tx.client, run, oldJob);
  await tx.db.update(runs).set({ status: "queued", jobId, heartbeatAt: null }).where(eq(runs.id, run.id));
}

/** A kind whose runs go through `queue` (to close a job whose run is gone). */
function kindOfQueue(queue: RunQueueName): string {
  return queue === SERVE_QUEUE ? "serve" : "training";
}

function jobClosing(status: Final): "complete" | "fail" | "cancel" {
  return status === "succeeded" ? "complete" : status === "failed" ? "fail" : "cancel";
}

/** A final state: the row, its job closed, and the runs waiting for it told. */
export async function finishRun(
  tx: Tx,
  boss: PgBoss,
  run: RunRecord,
  status: Final,
  extra: { error?: string; logTail?: string; jobClosing?: "complete" | "fail" | "cancel" } = {},
): Promise<void> {
  await tx.db
    .update(runs)
    .set({
      status,
      finishedAt: sql`now()`,
      ...(extra.error !== undefined ? { error: extra.error } : {}),
      ...(extra.logTail !== undefined ? { logTail: extra.logTail } : {}),
      ...(status === "cancelled"
        ? { cancelRequestedAt: sql`coalesce(${runs.cancelRequestedAt}, now())` }
        : {}),
    })
    .where(eq(runs.id, run.id));
  if (extra.error && status === "failed") await log(tx, run.id, `failed: ${extra.error}`, "error");
  await closeRunJob(boss, tx.client, run, extra.jobClosing ?? jobClosing(status));
  await settleDependents(tx, boss, run.id);
}

/** Whether a run's inputs are ready: `failed` says why it never will be, `waiting` that some are still going. */
async function inputGate(tx: Tx, runId: string): Promise<{ failed?: string; waiting: boolean }> {
  const parents = await tx.db
    .select({ name: runs.name, status: runs.status, error: runs.error })
    .from(runInputs)
    .innerJoin(runs, eq(runs.id, runInputs.parentRunId))
    .where(eq(runInputs.runId, runId));
  for (const parent of parents) {
    if (parent.status === "failed") {
      return {
        failed: `input run ${parent.name} failed: ${parent.error ?? "(no error recorded)"}`,
        waiting: false,
      };
    }
    if (parent.status === "cancelled")
      return { failed: `input run ${parent.name} was cancelled`, waiting: false };
  }
  return { waiting: parents.some((p) => p.status !== "succeeded") };
}

/**
 * A run finished: its queued dependents whose inputs are now all ready get an immediate job (instead of
 * waiting for their deferred one); those with a failed input fail, and so on down the pipeline.
 */
export async function settleDependents(tx: Tx, boss: PgBoss, parentRunId: string): Promise<void> {
  const dependents = await tx.db
    .selectDistinct({ id: runs.id })
    .from(runInputs)
    .innerJoin(runs, eq(runs.id, runInputs.runId))
    .where(and(eq(runInputs.parentRunId, parentRunId), eq(runs.status, "queued")));
  if (dependents.length === 0) return;
  const locked = await tx.db
    .select()
    .from(runs)
    .where(
      and(
        inArray(
          runs.id,
          dependents.map((d) => d.id),
        ),
        eq(runs.status, "queued"),
      ),
    )
    .for("update");
  for (const run of locked) {
    const gate = await inputGate(tx, run.id);
    if (gate.failed) await finishRun(tx, boss, run, "failed", { error: gate.failed });
    else if (!gate.waiting) {
      const data = await runJobData(tx.client, run.id, run.jobId);
      await requeue(tx, boss, run, data);
    }
  }
}

async function log(tx: Tx, runId: string, message: string, level: "info" | "warn" | "error" = "info") {
  await tx.db.insert(runLogs).values({ runId, message, level });
}

export function describeExit(exit: Pick<AttemptExit, "code" | "signal">): string {
  if (exit.signal) {
    const hint =
      exit.signal === "SIGKILL"
        ? " (killed: out of memory, or kill -9)"
        : exit.signal === "SIGSEGV"
          ? " (crashed)"
          : "";
    return `was killed by ${exit.signal}${hint}`;
  }
  return `exited with code ${exit.code}${exit.code === 134 ? " (aborted: out of memory?)" : ""}`;
}
