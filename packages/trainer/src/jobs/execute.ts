/**
 * Running one run: build its JobContext, hand its validated config to the trainer of its kind, and keep
 * the run's row true — running with the backend and host, progress and heartbeat, checkpoints, then
 * succeeded, cancelled, or failed with the error and the tail of its log. Used by `rlhf train` (in this
 * process) and by the worker's job process alike.
 */
import { mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { isJobKind, type JobKind, parseJobConfig } from "@rlhf/core/configs";
import { type Database, workbenchHome } from "@rlhf/core/db";
import { didYouMean } from "@rlhf/core/queue";
import { checkpoints, runs } from "@rlhf/core/schema";
import { RunTelemetry } from "@rlhf/core/telemetry";
import { desc, eq, or, sql } from "drizzle-orm";
import { type BackendInfo, describeDevice, initBackend } from "../backend";
import { type JobContext, JobInputError, type RunSummary } from "./context";

type Trainer = (config: never, ctx: JobContext) => Promise<RunSummary>;

/** The trainer of each job kind, loaded when needed (tfjs and the model only load for real work). */
const trainers: Record<JobKind, () => Promise<Trainer>> = {
  pretrain: async () => (await import("../trainers/pretrain")).trainPretrain as Trainer,
  sft: async () => (await import("../trainers/sft")).trainSft as Trainer,
  reward: async () => (await import("../trainers/reward")).trainReward as Trainer,
  ppo: async () => (await import("../trainers/ppo")).trainPpo as Trainer,
  dpo: async () => (await import("../trainers/dpo")).trainDpo as Trainer,
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
}

export interface ExecuteResult {
  /** "requeued": the worker is shutting down; the run checkpointed and goes back to the queue. */
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
  const [run] = await database.db.select().from(runs).where(eq(runs.id, runId));
  if (!run) throw new Error(`no run ${runId}`);
  if (!isJobKind(run.kind)) throw new Error(`run ${runId} is of kind ${run.kind}, which no trainer runs`);

  const telemetry = new RunTelemetry(database.pool, runId);
  const logTail: string[] = [];
  const log = (message: string, level: "debug" | "info" | "warn" | "error" = "info") => {
    telemetry.log(message, level);
    logTail.push(message);
    if (logTail.length > LOG_TAIL_LINES) logTail.shift();
    options.echo?.(message);
  };
  const signal = options.signal ?? new AbortController().signal;

  let backend: BackendInfo | undefined;
  try {
    const config = parseJobConfig(run.kind, run.config);
    backend = await initBackend(config.backend);
    const [latest] = await database.db
      .select()
      .from(checkpoints)
      .where(eq(checkpoints.runId, runId))
      .orderBy(desc(checkpoints.step))
      .limit(1);
    await database.db
      .update(runs)
      .set({
        status: "running",
        startedAt: run.startedAt ?? new Date(),
        heartbeatAt: new Date(),
        backend: backend.name,
        device: describeDevice(backend),
        workerId: options.workerId ?? `cli-${process.pid}`,
        workerHost: os.hostname(),
        attempts: sql`${runs.attempts} + 1`,
        error: null,
      })
      .where(eq(runs.id, runId));
    log(
      `${run.kind} run ${run.name} on ${backend.name} (${backend.device})${latest ? `, resuming from step ${latest.step}` : ""}`,
    );

    const runDir = runDirectory(runId);
    mkdirSync(runDir, { recursive: true });
    let lastBeat = 0;
    let lastProgress: { step: number; total: number } | undefined;
    const ctx: JobContext = {
      runId,
      database,
      telemetry,
      backend,
      runDir,
      signal,
      resumeFrom: latest ? { step: latest.step, path: latest.path } : undefined,
      progress: (step, totalSteps) => {
        lastProgress = { step, total: totalSteps };
        options.onProgress?.(step, totalSteps);
        const now = Date.now();
        if (now - lastBeat < 1000) return Promise.resolve();
        lastBeat = now;
        void database.db
          .update(runs)
          .set({ step, totalSteps, heartbeatAt: new Date() })
          .where(eq(runs.id, runId))
          .catch(() => {});
        // A macrotask turn: the update above, the metrics flush timer and IPC (cancel) get to run.
        return new Promise<void>((resolve) => setImmediate(resolve));
      },
      checkpoint: async (step, dir, extra = {}) => {
        // Points up to the checkpoint must be in the database before the checkpoint is: a resumed run
        // continues after it, so anything still buffered would be lost if the process died now.
        await telemetry.flush();
        await database.db
          .insert(checkpoints)
          .values({ runId, step, path: dir, metrics: extra.metrics ?? {}, isFinal: extra.isFinal ?? false })
          .onConflictDoUpdate({
            target: [checkpoints.runId, checkpoints.step],
            set: { path: dir, metrics: extra.metrics ?? {}, isFinal: extra.isFinal ?? false },
          });
        log(`checkpoint at step ${step}: ${dir}`);
      },
      resolveCheckpoint: (ref, step) => resolveCheckpointRef(database, ref, step),
      log,
    };

    const trainer = await trainers[run.kind]();
    const summary = await trainer(config as never, ctx);
    if (signal.aborted && signal.reason === "shutdown") {
      log("stopped for a worker shutdown; back in the queue");
      await telemetry.close();
      await database.db.update(runs).set({ status: "queued", heartbeatAt: null }).where(eq(runs.id, runId));
      return { status: "requeued", summary };
    }
    await telemetry.close();
    const cancelled = signal.aborted && signal.reason === "cancel";
    await database.db
      .update(runs)
      .set({
        status: cancelled ? "cancelled" : "succeeded",
        finishedAt: new Date(),
        summary,
        heartbeatAt: new Date(),
        // Progress writes are throttled; the final step is written here.
        ...(lastProgress ? { step: lastProgress.step, totalSteps: lastProgress.total } : {}),
      })
      .where(eq(runs.id, runId));
    return { status: cancelled ? "cancelled" : "succeeded", summary };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`failed: ${message}`, "error");
    if (error instanceof Error && error.stack && !(error instanceof JobInputError)) log(error.stack, "debug");
    await telemetry.close().catch(() => {});
    await database.db
      .update(runs)
      .set({ status: "failed", finishedAt: new Date(), error: message, logTail: logTail.join("\n") })
      .where(eq(runs.id, runId));
    return { status: "failed", error: message };
  }
}
