import type { Database } from "@rlhf/core/db";
import type { RunTelemetry } from "@rlhf/core/telemetry";
import type { BackendInfo } from "../backend";

/**
 * What a trainer gets from whoever runs it — `rlhf train` in this process, or a worker's job process.
 * Trainers only talk to the outside world through this, so the same loop runs in both.
 */
export interface JobContext {
  runId: string;
  database: Database;
  telemetry: RunTelemetry;
  backend: BackendInfo;
  /** This run's directory for checkpoints and artifacts (`<home>/runs/<run id>`). */
  runDir: string;
  /**
   * Aborted when the run is cancelled or the worker shuts down. Trainers check it between steps, save a
   * checkpoint, and return (`signal.reason` says which).
   */
  signal: AbortSignal;
  /** The run's latest checkpoint when this is a resumed attempt (after a crash or a re-queue). */
  resumeFrom?: { step: number; path: string };
  /**
   * Record progress; also the heartbeat. Cheap: await it every step. About once a second it gives the
   * event loop a turn, which a loop of synchronous tensor work otherwise never does: without it the progress
   * row, buffered metrics and a cancel message would wait for the next checkpoint's file I/O.
   */
  progress(step: number, totalSteps: number): Promise<void>;
  /** Record a checkpoint directory written for `step` (after the files are complete). */
  checkpoint(
    step: number,
    path: string,
    options?: { metrics?: Record<string, number>; isFinal?: boolean },
  ): Promise<void>;
  /** A checkpoint reference (`run:<id or name>`, its checkpoint at `step` if given, or a directory) as a directory. */
  resolveCheckpoint(ref: string, step?: number): Promise<string>;
  /** A line for the run's log (also printed by the CLI). */
  log(message: string, level?: "debug" | "info" | "warn" | "error"): void;
}

/** What a trainer returns: figures for the run's summary (shown by the CLI and the dashboard). */
export type RunSummary = Record<string, number | string | boolean | null>;

/** Thrown by a trainer for a problem a person must fix (bad data, a missing checkpoint); no retry helps. */
export class JobInputError extends Error {
  override name = "JobInputError";
}
