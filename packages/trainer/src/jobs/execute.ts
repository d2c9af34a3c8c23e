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
import {
  failAttempt,
  findRun,
  finishAttempt,
  handBackRun,
  latestCheckpoint,
  markRunning,
  type RunRecord,
  recordProgress,
  resolveCheckpointRef,
} from "@rlhf/core/queue";
import { RunTelemetry } from "@rlhf/core/telemetry";
import { describeDevice, initBackend } from "../backend";
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

/** `run:<id or name>` → checkpoint directory: the one resolver of `@rlhf/core/queue`, for the trainer's callers. */
export { resolveCheckpointRef };

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

type Level = "debug" | "info" | "warn" | "error";

/** What the parts of one execution share: the run's log and telemetry, and writes that wait out an outage. */
interface Attempt {
  database: Database;
  runId: string;
  options: ExecuteOptions;
  thread: DatabaseThread | undefined;
  telemetry: RunTelemetry;
  log: (message: string, level?: Level) => void;
  /** The last LOG_TAIL_LINES lines, kept with a failure. */
  logTail: string[];
  /** A write that must happen: retried with backoff for as long as the database is away. */
  write: <T>(fn: () => Promise<T>) => Promise<T>;
}

function openAttempt(
  database: Database,
  runId: string,
  options: ExecuteOptions,
  thread: DatabaseThread | undefined,
): Attempt {
  const logTail: string[] = [];
  const onOutage = (event: { state: "unreachable"; error: string } | { state: "back"; seconds: number }) =>
    event.state === "unreachable"
      ? log(`database unreachable (${event.error}); training goes on, its telemetry kept in memory`, "warn")
      : log(`database answers again after ${event.seconds.toFixed(1)} s; buffered telemetry written`);
  const telemetry = new RunTelemetry(database.pool, runId, { onOutage, sink: thread });
  const log = (message: string, level: Level = "info") => {
    telemetry.log(message, level);
    logTail.push(message);
    if (logTail.length > LOG_TAIL_LINES) logTail.shift();
    options.echo?.(message);
  };
  const write = <T>(fn: () => Promise<T>) => untilReachable(fn, { onOutage });
  return { database, runId, options, thread, telemetry, log, logTail, write };
}

async function execute(
  database: Database,
  runId: string,
  options: ExecuteOptions,
  thread: DatabaseThread | undefined,
): Promise<ExecuteResult> {
  const attempt = openAttempt(database, runId, options, thread);
  const { telemetry, log, write } = attempt;
  const run = await write(() => findRun(database.db, runId));
  const refuse = (message: string) => {
    void telemetry.close().catch(() => {}); // nothing of a run that cannot start is kept
    return new Error(message);
  };
  if (!run) throw refuse(`no run ${runId}`);
  if (!isJobKind(run.kind)) throw refuse(`run ${runId} is of kind ${run.kind}, which no trainer runs`);

  const stopForOutage = new AbortController();
  const signal = options.signal
    ? AbortSignal.any([options.signal, stopForOutage.signal])
    : stopForOutage.signal;
  try {
    const config = parseJobConfig(run.kind, run.config);
    const backend = await initBackend(config.backend);
    const latest = await write(() => latestCheckpoint(database.db, runId));
    await write(() =>
      markRunning(database.db, runId, {
        backend: backend.name,
        device: describeDevice(backend),
        workerId: options.workerId ?? `cli-${process.pid}`,
        workerHost: os.hostname(),
      }),
    );
    log(
      `${run.kind} run ${run.name} on ${backend.name} (${backend.device})${latest ? `, resuming from step ${latest.step}` : ""}`,
    );
    const runDir = runDirectory(runId);
    mkdirSync(runDir, { recursive: true });
    const progress = progressReporter(attempt, signal, () => stopForOutage.abort("outage"));
    const ctx: JobContext = {
      runId,
      database,
      telemetry,
      backend,
      runDir,
      signal,
      resumeFrom: latest,
      progress: progress.report,
      checkpoint: (step, dir, extra = {}) => checkpoint(attempt, step, dir, extra),
      resolveCheckpoint: (ref, step) => resolveCheckpointRef(database, ref, step),
      log,
    };
    const trainer = await trainers[run.kind]();
    const summary = await trainer(config as never, ctx).finally(() => progress.stop());
    return await finish(attempt, run, signal, summary, progress.last());
  } catch (error) {
    return fail(attempt, error);
  }
}

/**
 * The JobContext's `progress`: the callback, the heartbeat about once a second, and the outage check that
 * stops the run at this step. `stop` logs the event loop's delays (how late a database reply, a timer or
 * a cancel could be handled while training), measured from the first step on.
 */
function progressReporter(attempt: Attempt, signal: AbortSignal, stopForOutage: () => void) {
  const { database, runId, options, thread, telemetry, log } = attempt;
  const outageLimit = options.outageLimitSeconds ?? DEFAULT_OUTAGE_LIMIT_SECONDS;
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  let lastBeat = 0;
  let lastProgress: { step: number; total: number } | undefined;
  let progressWrite: Promise<unknown> | undefined;
  const report = (step: number, totalSteps: number): Promise<void> => {
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
      stopForOutage();
    }
    const now = Date.now();
    if (now - lastBeat < 1000) return Promise.resolve();
    lastBeat = now;
    // One write at a time: during an outage they would pile up in the pool ahead of telemetry. A
    // skipped or failed one is made good by the next (the latest step wins).
    if (thread) thread.progress(runId, step, totalSteps);
    else if (!progressWrite)
      progressWrite = recordProgress(database.db, runId, step, totalSteps)
        .catch(() => {})
        .finally(() => {
          progressWrite = undefined;
        });
    // A macrotask turn: the update above, the metrics flush timer and IPC (cancel) get to run.
    return new Promise<void>((resolve) => setImmediate(resolve));
  };
  const stop = async () => {
    loopDelay.disable();
    const writes = thread
      ? `; database writes' thread: ${await thread.largestDelayMs().catch(() => "?")} ms`
      : "";
    log(
      `event loop: largest delay ${Math.round(loopDelay.max / 1e6)} ms, 99th percentile ${Math.round(loopDelay.percentile(99) / 1e6)} ms${writes}`,
      "debug",
    );
  };
  return { report, stop, last: () => lastProgress };
}

/**
 * The JobContext's `checkpoint`. Points up to the checkpoint must be in the database before the
 * checkpoint is (a resumed run continues after it): the record goes with the telemetry, in the same
 * transaction after them. Written now when the database answers; during an outage it waits with them and
 * training goes on.
 */
async function checkpoint(
  { telemetry, log }: Attempt,
  step: number,
  dir: string,
  extra: { metrics?: Record<string, number>; isFinal?: boolean },
): Promise<void> {
  log(`checkpoint at step ${step}: ${dir}`);
  telemetry.checkpoint({ step, path: dir, metrics: extra.metrics ?? {}, isFinal: extra.isFinal ?? false });
  if (telemetry.outageSeconds === 0) {
    await telemetry.flush().catch((error: unknown) => {
      if (!isUnreachable(error)) throw error;
    });
  }
}

/** Back to the queue without a failure: the run checkpointed (or never started) and resumes elsewhere. */
async function handBack({ database, runId, telemetry, log, write }: Attempt, message: string): Promise<void> {
  log(message, "warn");
  await telemetry.close();
  await write(() => handBackRun(database.db, runId));
}

/** The trainer returned: handed back (a shutdown or an outage stopped it), cancelled or succeeded. */
async function finish(
  attempt: Attempt,
  run: RunRecord,
  signal: AbortSignal,
  summary: RunSummary,
  progress: { step: number; total: number } | undefined,
): Promise<ExecuteResult> {
  if (signal.aborted && (signal.reason === "shutdown" || signal.reason === "outage")) {
    await handBack(
      attempt,
      signal.reason === "shutdown"
        ? "stopped for a worker shutdown; back in the queue"
        : "stopped for the database outage; back in the queue (not counted as a failed attempt)",
    );
    return { status: "requeued", summary };
  }
  await attempt.telemetry.close();
  const status = signal.aborted && signal.reason === "cancel" ? "cancelled" : "succeeded";
  await attempt.write(() => finishAttempt(attempt.database.db, run.id, { status, summary, progress }));
  return { status, summary };
}

/** The trainer threw: handed back when its own query met an outage (not the run's fault), else failed. */
async function fail(attempt: Attempt, error: unknown): Promise<ExecuteResult> {
  const { database, runId, telemetry, log, logTail, write } = attempt;
  if (isUnreachable(error)) {
    // The trainer's own query (reading its data, writing its tasks) met the outage: not the run's fault.
    const message = `database unreachable (${rootMessage(error)})`;
    if (error instanceof Error && error.stack) log(error.stack, "debug");
    await handBack(attempt, `${message}: stopped; back in the queue (not counted as a failed attempt)`);
    return { status: "requeued", error: message };
  }
  // A message is for people: never a page of minified source, whatever a library put in it.
  const full = error instanceof Error ? error.message : String(error);
  const message = full.length > 4000 ? `${full.slice(0, 3999)}…` : full;
  log(`failed: ${message}`, "error");
  if (error instanceof Error && error.stack && !(error instanceof JobInputError)) log(error.stack, "debug");
  await telemetry.close().catch(() => {});
  await write(() => failAttempt(database.db, runId, { error: message, logTail: logTail.join("\n") }));
  return { status: "failed", error: message };
}
