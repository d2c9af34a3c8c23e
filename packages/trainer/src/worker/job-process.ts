/**
 * One run in a process of its own: `node --import tsx job-process.ts <runId>`, started by a worker with
 * DATABASE_URL and RLHF_WORKER_ID set. The worker's "stop" message aborts the run's signal (the trainer
 * checkpoints and returns); if the worker goes away the process exits at once and the run's heartbeat
 * lapses, so another worker's reaper re-queues it from its last checkpoint.
 */
import { type Database, openDatabase, untilReachable } from "@rlhf/core/db";
import { coreEnv } from "@rlhf/core/env";
import { DEFAULT_OUTAGE_LIMIT_SECONDS, executeRun } from "../jobs/execute";
import { handleProcessErrors } from "../jobs/process-errors";
import { EXIT_ORPHANED, EXIT_UNREACHABLE, type FromJobProcess, type ToJobProcess } from "./messages";

const runId = process.argv[2];
const env = coreEnv();
if (!runId || !env.DATABASE_URL) {
  process.stderr.write("usage: DATABASE_URL=… job-process.ts <run id> (started by `rlhf worker`)\n");
  process.exit(2);
}

const outageLimitSeconds = env.RLHF_OUTAGE_LIMIT_SECONDS ?? DEFAULT_OUTAGE_LIMIT_SECONDS;
let database: Database | undefined;
// An error nobody caught: one line for the worker's output, the stack in the run's log.
handleProcessErrors({
  prefix: "error",
  keepStack: async (line, stack) => {
    await database?.pool.query(
      "insert into run_logs (run_id, level, message) values ($1, 'error', $2), ($1, 'debug', $3)",
      [runId, line, stack],
    );
  },
});

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

// Started while the database is away: wait for it, up to the outage limit, then leave the run to the worker.
database = await untilReachable(() => openDatabase({ url: env.DATABASE_URL, migrate: false, max: 4 }), {
  maxWaitMs: outageLimitSeconds * 1000,
}).catch((error: unknown) => {
  process.stderr.write(`database unreachable for ${outageLimitSeconds} s: ${(error as Error).message}\n`);
  process.exit(EXIT_UNREACHABLE);
});
try {
  const result = await executeRun(database, runId, {
    signal: controller.signal,
    workerId: env.RLHF_WORKER_ID,
    outageLimitSeconds,
    databaseThread: true,
    echo: (line) => process.stdout.write(`${line}\n`),
  });
  const message: FromJobProcess = { type: "result", status: result.status, error: result.error };
  process.send?.(message);
} finally {
  await database.close();
}
process.exit(0);
