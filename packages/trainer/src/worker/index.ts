/**
 * The worker: `Worker` (claim, run in a job process, heartbeat, cancel, re-queue) and `runWorker`, the
 * `rlhf worker` command around it (opens the database, stops gracefully on SIGTERM/SIGINT).
 */
import { openDatabase } from "@rlhf/core/db";
import { onStopSignals } from "../signals";
import { Worker, type WorkerEvent, type WorkerOptions } from "./worker";

export { formatEvent, Worker, type WorkerEvent, type WorkerOptions } from "./worker";

/** Run a worker until SIGTERM or SIGINT; `json` prints one JSON event per line instead of text. */
export async function runWorker(options: WorkerOptions & { json?: boolean }): Promise<void> {
  // Our own handlers first, so the embedded database does not install its exit-at-once ones.
  let worker: Worker | undefined;
  let signals = 0;
  onStopSignals(
    (signal, press) => {
      signals = press;
      if (press > 1) {
        process.stderr.write(
          `rlhf worker: ${signal} again, exiting now (running jobs will be re-queued by the reaper)\n`,
        );
        process.exit(130);
      }
      void worker?.stop();
    },
    { signals: ["SIGINT", "SIGTERM"] },
  );

  const database = await openDatabase();
  const print = options.json
    ? (_line: string, event: WorkerEvent) =>
        process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), ...event })}\n`)
    : options.print;
  worker = new Worker(database, { ...options, print });
  try {
    await worker.start();
    if (signals > 0) await worker.stop();
    await worker.done;
  } finally {
    await database.close();
  }
}
