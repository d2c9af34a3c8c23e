/** What a worker and its job processes say to each other over the IPC channel. */

/** Worker → job process: stop between steps, checkpoint, and return (the AbortSignal's reason). */
export interface StopMessage {
  type: "stop";
  reason: "cancel" | "shutdown";
}

/** Job process → worker: how `executeRun` ended (the database has it too; this is for the worker's log). */
export interface ResultMessage {
  type: "result";
  status: "succeeded" | "failed" | "cancelled" | "requeued";
  error?: string;
}

export type ToJobProcess = StopMessage;
export type FromJobProcess = ResultMessage;

/** Exit code of a job process whose worker went away: it stops at once and leaves the run to the reaper. */
export const EXIT_ORPHANED = 75;

/** Exit code of a job process that could not reach the database within its outage limit: not the run's failure. */
export const EXIT_UNREACHABLE = 76;
