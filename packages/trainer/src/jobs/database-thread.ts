/**
 * A job process's database writes on a thread of their own: telemetry batches and progress. A training
 * step is synchronous tensor work that holds the main thread's event loop for as long as it runs (a PPO
 * iteration of the demo's size: 4–12 s on two busy cores), and a connection opened just before such a
 * step would see pg's timeout fire the moment the step ends. On this thread nothing waits for the step.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { TelemetryBatch, TelemetrySink } from "@rlhf/core/telemetry";

export type ThreadRequest = { id: number } & (
  | { type: "write"; runId: string; batch: TelemetryBatch }
  | { type: "committed"; xid: string }
  | { type: "progress"; runId: string; step: number; total: number }
  | { type: "delay" }
  | { type: "close" }
);

export type ThreadReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { message: string; code?: string; unsureXid?: string } };

type Request = ThreadRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

export class DatabaseThread implements TelemetrySink {
  private readonly worker: Worker;
  private next = 0;
  private readonly waiting = new Map<number, (reply: ThreadReply) => void>();
  private progressInFlight = false;

  constructor(url: string) {
    // TypeScript sources in a worker thread: a small ESM entry registers tsx's loader there first (as
    // ../parallel does; an inherited --import does not reach worker threads).
    const tsxDir = path.dirname(createRequire(import.meta.url).resolve("tsx/package.json"));
    const tsxApi = pathToFileURL(path.join(tsxDir, "dist", "esm", "api", "index.mjs")).href;
    const entryModule = new URL("./database-thread-worker.ts", import.meta.url).href;
    const entry = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(entryModule)});`;
    this.worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(entry)}`), {
      workerData: { url },
    });
    this.worker.on("message", (reply: ThreadReply) => {
      this.waiting.get(reply.id)?.(reply);
      this.waiting.delete(reply.id);
    });
    this.worker.on("error", (error) => {
      for (const resolve of this.waiting.values())
        resolve({ id: -1, ok: false, error: { message: `database thread: ${error.message}` } });
      this.waiting.clear();
    });
    this.worker.unref();
  }

  private call(request: Request): Promise<unknown> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (reply) => {
        if (reply.ok) return resolve(reply.value);
        const error = Object.assign(new Error(reply.error.message), {
          code: reply.error.code,
          unsureXid: reply.error.unsureXid,
        });
        reject(error);
      });
      this.worker.postMessage({ ...request, id });
    });
  }

  write(runId: string, batch: TelemetryBatch): Promise<void> {
    return this.call({ type: "write", runId, batch }) as Promise<void>;
  }

  committed(xid: string): Promise<boolean> {
    return this.call({ type: "committed", xid }) as Promise<boolean>;
  }

  /** Progress and heartbeat, one at a time (a failed or skipped one is made good by the next). */
  progress(runId: string, step: number, total: number): void {
    if (this.progressInFlight) return;
    this.progressInFlight = true;
    this.call({ type: "progress", runId, step, total })
      .catch(() => {})
      .finally(() => {
        this.progressInFlight = false;
      });
  }

  /** The largest delay the thread's event loop has seen, in ms. */
  largestDelayMs(): Promise<number> {
    return this.call({ type: "delay" }) as Promise<number>;
  }

  /** End the thread's pool and the thread. */
  async close(): Promise<void> {
    await this.call({ type: "close" }).catch(() => {});
    await this.worker.terminate();
  }
}
