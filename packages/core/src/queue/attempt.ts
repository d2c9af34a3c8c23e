/**
 * The writes a job process makes about its own run, the left-hand column of the diagram in
 * lifecycle.ts: running (with its backend and host, one more attempt), progress and heartbeat, then
 * succeeded, cancelled or failed — or handed back to the queue (a worker shutdown, a database outage)
 * without counting as a failure. `rlhf train`, the CLI demo, the benchmarks and a worker's job process
 * all write them through here (the trainer's jobs/execute.ts), so a run's row means the same whoever ran it.
 *
 * These are single-row updates, not transactions with pg-boss: the job's fate is settled afterwards by
 * the worker (`settleAttempt`), which reads the state written here.
 */
import { and, desc, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../db/open";
import { checkpoints, runLogs, runs } from "../db/schema";

/** Where and how an attempt runs: written when it starts. */
export interface AttemptPlace {
  backend: string;
  device: string;
  workerId: string;
  workerHost: string;
}

/** Running: one more attempt, the backend and worker it runs on, a fresh heartbeat, no error. */
export async function markRunning(db: Db, runId: string, place: AttemptPlace): Promise<void> {
  await db
    .update(runs)
    .set({
      status: "running",
      startedAt: sql`coalesce(${runs.startedAt}, now())`,
      heartbeatAt: new Date(),
      ...place,
      attempts: sql`${runs.attempts} + 1`,
      error: null,
    })
    .where(eq(runs.id, runId));
}

/** Progress, which is also the heartbeat. */
export async function recordProgress(db: Db, runId: string, step: number, totalSteps: number): Promise<void> {
  await db.update(runs).set({ step, totalSteps, heartbeatAt: new Date() }).where(eq(runs.id, runId));
}

/**
 * The trainer returned: succeeded, or cancelled when it stopped for a cancel. `progress`, the last step
 * reached (progress writes are throttled, so the final one is written here).
 */
export async function finishAttempt(
  db: Db,
  runId: string,
  outcome: {
    status: "succeeded" | "cancelled";
    summary: Record<string, unknown>;
    progress?: { step: number; total: number };
  },
): Promise<void> {
  const { status, summary, progress } = outcome;
  await db
    .update(runs)
    .set({
      status,
      finishedAt: new Date(),
      summary,
      heartbeatAt: new Date(),
      ...(progress ? { step: progress.step, totalSteps: progress.total } : {}),
    })
    .where(eq(runs.id, runId));
}

/** The trainer threw: failed, with its message and the last lines of its log. */
export async function failAttempt(
  db: Db,
  runId: string,
  failure: { error: string; logTail: string },
): Promise<void> {
  await db
    .update(runs)
    .set({ status: "failed", finishedAt: new Date(), error: failure.error, logTail: failure.logTail })
    .where(eq(runs.id, runId));
}

/**
 * Back to the queue without a failure: the run checkpointed (or never started) and resumes elsewhere.
 * Its worker (settleAttempt) gives it a new job.
 */
export async function handBackRun(db: Db, runId: string): Promise<void> {
  await db.update(runs).set({ status: "queued", heartbeatAt: null }).where(eq(runs.id, runId));
}

/** The run's latest checkpoint (what a resumed attempt continues from), or undefined. */
export async function latestCheckpoint(
  db: Db,
  runId: string,
): Promise<{ step: number; path: string } | undefined> {
  const [latest] = await db
    .select({ step: checkpoints.step, path: checkpoints.path })
    .from(checkpoints)
    .where(eq(checkpoints.runId, runId))
    .orderBy(desc(checkpoints.step))
    .limit(1);
  return latest;
}

/**
 * A run executed in-process (no queue job) whose process is gone — killed, or its machine asleep — while
 * its row still says running under `workerId`: back to queued, with `reason` in its log and error, so the
 * next attempt resumes it from its latest checkpoint (`rlhf pipeline --demo` run again). Only if it is
 * still running under that worker; returns whether it was.
 */
export async function recoverAbandonedRun(
  db: Db,
  runId: string,
  workerId: string,
  reason: string,
): Promise<boolean> {
  const recovered = await db
    .update(runs)
    .set({ status: "queued", heartbeatAt: null, error: reason })
    .where(
      and(eq(runs.id, runId), eq(runs.status, "running"), eq(runs.workerId, workerId), isNull(runs.jobId)),
    )
    .returning({ id: runs.id });
  if (recovered.length === 0) return false;
  await db
    .insert(runLogs)
    .values({ runId, level: "warn", message: `attempt interrupted (not counted as a failure): ${reason}` });
  return true;
}
