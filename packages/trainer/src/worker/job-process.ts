/**
 * One run in a process of its own: `node --import tsx job-process.ts <runId>`, started by a worker with
 * DATABASE_URL and RLHF_WORKER_ID set. The worker's "stop" message aborts the run's signal (the trainer
 * checkpoints and returns); if the worker goes away the process exits at once and the run's heartbeat
 * lapses, so another worker's reaper re-queues it from its last checkpoint.
 */
import { openDatabase } from "@rlhf/core/db";
import { executeRun } from "../jobs/execute";
import { EXIT_ORPHANED, type FromJobProcess, type ToJobProcess } from "./messages";

const runId = process.argv[2];
if (!runId || !process.env.DATABASE_URL) {
  process.stderr.write("usage: DATABASE_URL=… job-process.ts <run id> (started by `rlhf worker`)\n");
  process.exit(2);
}

const controller = new AbortController();
const stop = (reason: "cancel" | "shutdown") => {
  if (!controller.signal.aborted) controller.abort(reason);
};
process.on("message", (message: ToJobProcess) => {
  if (message?.type === "stop") stop(message.reason);
});
process.on("disconnect", () => process.exit(EXIT_ORPHANED));
// A terminal's Ctrl-C or a service manager reaches the whole process group: treat it as the worker's
// shutdown (checkpoint and hand the run back), which the worker will ask for anyway.
process.on("SIGINT", () => stop("shutdown"));
process.on("SIGTERM", () => stop("shutdown"));

const database = await openDatabase({ url: process.env.DATABASE_URL, migrate: false, max: 4 });
try {
  const result = await executeRun(database, runId, {
    signal: controller.signal,
    workerId: process.env.RLHF_WORKER_ID,
    echo: (line) => process.stdout.write(`${line}\n`),
  });
  const message: FromJobProcess = { type: "result", status: result.status, error: result.error };
  process.send?.(message);
} finally {
  await database.close();
}
process.exit(0);
