/**
 * Running one run: build its JobContext, hand its validated config to the trainer of its kind, and keep
 * the run's row true — running with the backend and host, progress and heartbeat, checkpoints, then
 * succeeded, cancelled, or failed with the error and the tail of its log. Used by `rlhf train` (in this
 * process) and by the worker's job process alike.
 *
 * Through a database outage the run trains on: telemetry and checkpoint records wait in memory
 * (RunTelemetry's bounds), progress writes are skipped until the database answers, and the run's final
 * state is written when it does. An outage longer than `outageLimitSeconds` (or buffers at their bound)
 * stops the run at its next step: it checkpoints and, once the database answers, goes back to the queue
 * without counting as a failed attempt. So does a trainer whose own query met the outage.
 */
import { mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { isJobKind, type JobKind, parseJobConfig } from "@rlhf/core/configs";
import { type Database, isUnreachable, rootMessage, untilReachable, workbenchHome } from "@rlhf/core/db";
import { didYouMean } from "@rlhf/core/queue";
import { checkpoints, runs } from "@rlhf/core/schema";
import { RunTelemetry } from "@rlhf/core/telemetry";
import { desc, eq, or, sql } from "drizzle-orm";
import { type BackendInfo, describeDevice, initBackend } from "../backend";
import { type JobContext, JobInputError, type RunSummary } from "../train/context";
import { DatabaseThread } from "./database-thread";

type Trainer = (config: never, ctx: JobContext) => Promise<RunSummary>;

/** The trainer of each job kind, loaded when needed (tfjs and the model only load for real work). */
const trainers: Record<JobKind, () => Promise<Trainer>> = {
  pretrain: async () => (await import("../trainers/pretrain")).trainPretrain as Trainer,
  sft: async () => (await import("../trainers/sft")).trainSft as Trainer,
  reward: async () => (await import("../trainers/reward")).trainReward as Trainer,
  ppo: async () => (await import("../trainers/ppo")).trainPpo as Trainer,
  dpo: async () => (await import("../trainers/dpo")).trainDpo as Trainer,
  grpo: async () => (await import("../trainers/grpo")).trainGrpo as Trainer,
  rloo: async () => (await import("../trainers/rloo")).trainRloo as Trainer,
  generate: async () => (await import("../trainers/generate")).trainGenerate as Trainer,
  serve: async () => (await import("../serve/job")).runServe as Trainer,
};

export interface ExecuteOptions {
  /** Aborts the run (cancel or shutdown); the trainer checkpoints and returns. */
  signal?: AbortSignal;
  workerId?: string;
  /** Echo log lines to stderr (the CLI does; a worker's job process forwards its own). */
  echo?: (line: string) => void;
  /** Progress callback besides the database (the CLI's progress bar). */
  onProgress?: (step: number, total: number, metrics?: Record<string, number>) => void;
  /** A database outage longer than this stops the run: checkpoint, back in the queue (default 300 s). */
  outageLimitSeconds?: number;
  /**
   * Write telemetry and progress from a thread of their own (a worker's job process does), so that long
   * synchronous steps never delay a database reply or trip a connection timeout.
   */
  databaseThread?: boolean;
}

export const DEFAULT_OUTAGE_LIMIT_SECONDS = 300;

export interface ExecuteResult {
  /**
   * "requeued": the worker is shutting down, or the database was away too long; the run checkpointed and
   * goes back to the queue.
   */
  status: "succeeded" | "failed" | "cancelled" | "requeued";
  summary?: RunSummary;
  error?: string;
}

const LOG_TAIL_LINES = 40;

/** Directory of a run's checkpoints and artifacts. */
export function runDirectory(runId: string, home = workbenchHome()): string {
  return path.join(home, "runs", runId);
}

/**
 * The checkpoint a `run:<id or name>` ref names — the run's final (else latest) one, or the one at `step` —
 * or an error saying what is missing. Any other ref is a directory.
 */
export async function resolveCheckpointRef(database: Database, ref: string, step?: number): Promise<string> {
  if (!ref.startsWith("run:")) return path.resolve(ref);
  const key = ref.slice(4);
  const isUuid = /^[0-9a-f-]{36}$/i.test(key);
  const [run] = await database.db
    .select()
    .from(runs)
    .where(isUuid ? or(eq(runs.id, key), eq(runs.name, key)) : eq(runs.name, key))
    .orderBy(desc(runs.createdAt))
    .limit(1);
  if (!run)
    throw new Error(`${ref}: no run with that id or name${await didYouMean(database.db, key, "run:")}`);
  const saved = await database.db
    .select()
    .from(checkpoints)
    .where(eq(checkpoints.runId, run.id))
    .orderBy(desc(checkpoints.isFinal), desc(checkpoints.step));
  if (saved.length === 0) throw new Error(`${ref}: run ${run.name} (${run.status}) has no checkpoint yet`);
  if (step === undefined) return saved[0]!.path;
  const atStep = saved.find((c) => c.step === step);
  if (!atStep) {
    const steps = saved.map((c) => c.step).sort((a, b) => a - b);
    throw new Error(
      `${ref}: run ${run.name} has no checkpoint at step ${step} (it has steps ${steps.join(", ")})`,
    );
  }
  return atStep.path;
}

/** Run `runId` to the end here. Never throws for a failing trainer: the run is marked failed instead. */
export async function executeRun(
  database: Database,
  runId: string,
  options: ExecuteOptions = {},
): Promise<ExecuteResult> {
  const thread = options.databaseThread ? new DatabaseThread(database.url) : undefined;
  try {
    return await execute(database, runId, options, thread);
  } finally {
    await thread?.close();
  }
}

async function execute(
  database: Database,
  runId: string,
  options: ExecuteOptions,
  thread: DatabaseThread | undefined,
): Promise<ExecuteResult> {
  const logTail: string[] = [];
  const onOutage = (event: { state: "unreachable"; error: string } | { state: "back"; seconds: number }) =>
    event.state === "unreachable"
      ? log(`database unreachable (${event.error}); training goes on, its telemetry kept in memory`, "warn")
      : log(`database answers again after ${event.seconds.toFixed(1)} s; buffered telemetry written`);
  const telemetry = new RunTelemetry(database.pool, runId, { onOutage, sink: thread });
  const log = (message: string, level: "debug" | "info" | "warn" | "error" = "info") => {
    telemetry.log(message, level);
    logTail.push(message);
    if (logTail.length > LOG_TAIL_LINES) logTail.shift();
    options.echo?.(message);
  };
  /** A write that must happen: retried with backoff for as long as the database is away. */
  const write = <T>(fn: () => Promise<T>) => untilReachable(fn, { onOutage });

  const [run] = await write(() => database.db.select().from(runs).where(eq(runs.id, runId)));
  const refuse = (message: string) => {
    void telemetry.close().catch(() => {}); // nothing of a run that cannot start is kept
    return new Error(message);
  };
  if (!run) throw refuse(`no run ${runId}`);
  if (!isJobKind(run.kind)) throw refuse(`run ${runId} is of kind ${run.kind}, which no trainer runs`);

  const outageLimit = options.outageLimitSeconds ?? DEFAULT_OUTAGE_LIMIT_SECONDS;
  const stopForOutage = new AbortController();
  const signal = options.signal
    ? AbortSignal.any([options.signal, stopForOutage.signal])
    : stopForOutage.signal;
  /** Back to the queue without a failure: the run checkpointed (or never started) and resumes elsewhere. */
  const handBack = async (message: string): Promise<void> => {
    log(message, "warn");
    await telemetry.close();
    await write(() =>
      database.db.update(runs).set({ status: "queued", heartbeatAt: null }).where(eq(runs.id, runId)),
    );
  };

  let backend: BackendInfo | undefined;
  try {
    const config = parseJobConfig(run.kind, run.config);
    const active = await initBackend(config.backend);
    backend = active;
    const [latest] = await write(() =>
      database.db
        .select()
        .from(checkpoints)
        .where(eq(checkpoints.runId, runId))
        .orderBy(desc(checkpoints.step))
        .limit(1),
    );
    await write(() =>
      database.db
        .update(runs)
        .set({
          status: "running",
          startedAt: run.startedAt ?? new Date(),
          heartbeatAt: new Date(),
          backend: active.name,
          device: describeDevice(active),
          workerId: options.workerId ?? `cli-${process.pid}`,
          workerHost: os.hostname(),
          attempts: sql`${runs.attempts} + 1`,
          error: null,
        })
        .where(eq(runs.id, runId)),
    );
    log(
      `${run.kind} run ${run.name} on ${backend.name} (${backend.device})${latest ? `, resuming from step ${latest.step}` : ""}`,
    );

    const runDir = runDirectory(runId);
    mkdirSync(runDir, { recursive: true });
    // The longest the event loop waited while training: how late a database reply, a timer (pg's
    // connection timeout) or a cancel message could be handled. Logged, so a slow machine can be told.
    // Measured from the first step on (loading a model before it is not what a step costs).
    const loopDelay = monitorEventLoopDelay({ resolution: 20 });
    let lastBeat = 0;
    let lastProgress: { step: number; total: number } | undefined;
    let progressWrite: Promise<unknown> | undefined;
    const ctx: JobContext = {
      runId,
      database,
      telemetry,
      backend,
      runDir,
      signal,
      resumeFrom: latest ? { step: latest.step, path: latest.path } : undefined,
      progress: (step, totalSteps) => {
        if (!lastProgress) loopDelay.enable();
        lastProgress = { step, total: totalSteps };
        options.onProgress?.(step, totalSteps);
        if (!signal.aborted && (telemetry.outageSeconds > outageLimit || telemetry.full)) {
          log(
            telemetry.full
              ? "the telemetry buffers are full and the database still does not answer: stopping at this step"
              : `the database has not answered for ${outageLimit} s: stopping at this step`,
            "warn",
          );
          stopForOutage.abort("outage");
        }
        const now = Date.now();
        if (now - lastBeat < 1000) return Promise.resolve();
        lastBeat = now;
        // One write at a time: during an outage they would pile up in the pool ahead of telemetry. A
        // skipped or failed one is made good by the next (the latest step wins).
        if (thread) thread.progress(runId, step, totalSteps);
        else if (!progressWrite)
          progressWrite = database.db
            .update(runs)
            .set({ step, totalSteps, heartbeatAt: new Date() })
            .where(eq(runs.id, runId))
            .catch(() => {})
            .finally(() => {
              progressWrite = undefined;
            });
        // A macrotask turn: the update above, the metrics flush timer and IPC (cancel) get to run.
        return new Promise<void>((resolve) => setImmediate(resolve));
      },
      checkpoint: async (step, dir, extra = {}) => {
        // Points up to the checkpoint must be in the database before the checkpoint is (a resumed run
        // continues after it): the record goes with the telemetry, in the same transaction after them.
        // Written now when the database answers; during an outage it waits with them and training goes on.
        log(`checkpoint at step ${step}: ${dir}`);
        telemetry.checkpoint({
          step,
          path: dir,
          metrics: extra.metrics ?? {},
          isFinal: extra.isFinal ?? false,
        });
        if (telemetry.outageSeconds === 0) {
          await telemetry.flush().catch((error: unknown) => {
            if (!isUnreachable(error)) throw error;
          });
        }
      },
      resolveCheckpoint: (ref, step) => resolveCheckpointRef(database, ref, step),
      log,
    };

    const trainer = await trainers[run.kind]();
    const summary = await trainer(config as never, ctx).finally(async () => {
      loopDelay.disable();
      const writes = thread
        ? `; database writes' thread: ${await thread.largestDelayMs().catch(() => "?")} ms`
        : "";
      log(
        `event loop: largest delay ${Math.round(loopDelay.max / 1e6)} ms, 99th percentile ${Math.round(loopDelay.percentile(99) / 1e6)} ms${writes}`,
        "debug",
      );
    });
    if (signal.aborted && (signal.reason === "shutdown" || signal.reason === "outage")) {
      await handBack(
        signal.reason === "shutdown"
          ? "stopped for a worker shutdown; back in the queue"
          : "stopped for the database outage; back in the queue (not counted as a failed attempt)",
      );
      return { status: "requeued", summary };
    }
    await telemetry.close();
    const cancelled = signal.aborted && signal.reason === "cancel";
    await write(() =>
      database.db
        .update(runs)
        .set({
          status: cancelled ? "cancelled" : "succeeded",
          finishedAt: new Date(),
          summary,
          heartbeatAt: new Date(),
          // Progress writes are throttled; the final step is written here.
          ...(lastProgress ? { step: lastProgress.step, totalSteps: lastProgress.total } : {}),
        })
        .where(eq(runs.id, runId)),
    );
    return { status: cancelled ? "cancelled" : "succeeded", summary };
  } catch (error) {
    if (isUnreachable(error)) {
      // The trainer's own query (reading its data, writing its tasks) met the outage: not the run's fault.
      const message = `database unreachable (${rootMessage(error)})`;
      if (error instanceof Error && error.stack) log(error.stack, "debug");
      await handBack(`${message}: stopped; back in the queue (not counted as a failed attempt)`);
      return { status: "requeued", error: message };
    }
    // A message is for people: never a page of minified source, whatever a library put in it.
    const full = error instanceof Error ? error.message : String(error);
    const message = full.length > 4000 ? `${full.slice(0, 3999)}…` : full;
    log(`failed: ${message}`, "error");
    if (error instanceof Error && error.stack && !(error instanceof JobInputError)) log(error.stack, "debug");
    await telemetry.close().catch(() => {});
    await write(() =>
      database.db
        .update(runs)
        .set({ status: "failed", finishedAt: new Date(), error: message, logTail: logTail.join("\n") })
        .where(eq(runs.id, runId)),
    );
    return { status: "failed", error: message };
  }
}
