/**
 * The thread side of `DatabaseThread`: a pool of its own, writing what the job's main thread hands it.
 * Its event loop is never held up by tensor work, so replies, timers (pg's connection timeout) and
 * retries run on time however long a training step is.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import { guardPool } from "@rlhf/core/db";
import { poolSink, type TelemetryBatch, type UnsureCommitError } from "@rlhf/core/telemetry";
import pg from "pg";
import type { ThreadReply, ThreadRequest } from "./database-thread";

const { url } = workerData as { url: string };
const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 15_000 });
guardPool(pool);
const sink = poolSink(pool);
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();

async function handle(request: ThreadRequest): Promise<unknown> {
  switch (request.type) {
    case "write":
      return sink.write(request.runId, request.batch as TelemetryBatch);
    case "committed":
      return sink.committed(request.xid);
    case "progress":
      await pool.query("update runs set step = $2, total_steps = $3, heartbeat_at = now() where id = $1", [
        request.runId,
        request.step,
        request.total,
      ]);
      return undefined;
    case "delay":
      return Math.round(loopDelay.max / 1e6);
    case "close":
      await pool.end();
      return undefined;
  }
}

parentPort!.on("message", (request: ThreadRequest) => {
  handle(request).then(
    (value) => parentPort!.postMessage({ id: request.id, ok: true, value } satisfies ThreadReply),
    (error: unknown) => {
      const e = error as UnsureCommitError & { code?: string };
      parentPort!.postMessage({
        id: request.id,
        ok: false,
        error: { message: e?.message ?? String(error), code: e?.code, unsureXid: e?.unsureXid },
      } satisfies ThreadReply);
    },
  );
});
