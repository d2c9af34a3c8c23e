import type pg from "pg";
import { backoffMs, isUnreachable, rootMessage } from "../db/outage";
import { type MetricPoint, writeMetricPoints } from "../series/rollups";

export * from "./metrics";

export interface SampleRecord {
  step: number;
  prompt: string;
  response: string;
  reward?: number | null;
  kl?: number | null;
  extra?: Record<string, unknown>;
}

/** A checkpoint directory to record once the points before it are written (the same transaction). */
export interface CheckpointRecord {
  step: number;
  path: string;
  metrics: Record<string, number>;
  isFinal: boolean;
}

/** PostgreSQL text cannot hold NUL; an untrained model happily emits it. */
const safeText = (text: string) => text.replaceAll("\u0000", "\uFFFD");

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface LogLine {
  level: LogLevel;
  message: string;
  ts: Date;
}

/** What one flush writes, in one transaction. */
export interface TelemetryBatch {
  points: MetricPoint[];
  samples: SampleRecord[];
  logs: LogLine[];
  checkpoints: CheckpointRecord[];
}

/**
 * Where batches go: `poolSink` writes through a pool in this thread; a job process hands them to a
 * thread of its own (the trainer's synchronous steps then never delay a database reply or trip a
 * connection timeout). A failure during COMMIT carries `unsureXid`: the transaction may have committed.
 */
export interface TelemetrySink {
  write(runId: string, batch: TelemetryBatch): Promise<void>;
  /** Whether transaction `xid` committed (its COMMIT's answer was lost). */
  committed(xid: string): Promise<boolean>;
}

/** An error from a write whose COMMIT was sent but not answered. */
export type UnsureCommitError = Error & { unsureXid?: string };

/** Batches written through `pool`, one transaction each, on one pooled connection. */
export function poolSink(pool: pg.Pool): TelemetrySink {
  return {
    committed: async (xid) => {
      const { rows } = await pool.query<{ status: string | null }>("select txid_status($1) as status", [xid]);
      return rows[0]?.status === "committed";
    },
    write: async (runId, batch) => {
      const client = await pool.connect();
      let failed: unknown;
      let xid: string | undefined;
      try {
        await client.query("begin");
        const { rows } = await client.query<{ xid: string }>("select txid_current()::text as xid");
        await insertBatch(client, runId, batch);
        xid = rows[0]!.xid;
        await client.query("commit");
      } catch (error) {
        failed = error;
        if (xid && error instanceof Error) (error as UnsureCommitError).unsureXid = xid;
        await client.query("rollback").catch(() => {});
        throw error;
      } finally {
        // A broken connection is discarded, not returned to the pool.
        client.release(failed instanceof Error && isUnreachable(failed) ? failed : undefined);
      }
    },
  };
}

/**
 * How much a run keeps in memory while the database is away. At these counts `full` turns true and the
 * job runner stops the run at its next step (checkpoint, hand back); the buffers take up to twice as
 * much before anything is refused, and what is refused is counted and logged. Worst case, about
 * 2 × (100,000 points × ~200 B + 5,000 samples × ~2 KB + 20,000 lines × ~200 B) ≈ 70 MB.
 */
export const TELEMETRY_BOUNDS = { metricPoints: 100_000, samples: 5_000, logLines: 20_000 } as const;

export interface TelemetryOptions {
  /** Write every this many ms (default 1000; 0 = only on `flush()`/`close()`). */
  flushIntervalMs?: number;
  /** Start a write as soon as this many metric points are buffered (default 5000). */
  maxBuffered?: number;
  /** Override TELEMETRY_BOUNDS (tests). */
  bounds?: Partial<Record<keyof typeof TELEMETRY_BOUNDS, number>>;
  /** Where batches are written (default: `poolSink(pool)`). */
  sink?: TelemetrySink;
  /** Told when writes start failing because the database is unreachable, and when they succeed again. */
  onOutage?: (event: { state: "unreachable"; error: string } | { state: "back"; seconds: number }) => void;
}

/** What one write took from the buffers (removed from them only once its transaction committed). */
interface Taken {
  points: MetricPoint[];
  samples: number;
  logs: number;
  checkpoints: number;
  /** The transaction id, when the connection broke during COMMIT (it may have committed). */
  unsureXid?: string;
}

/**
 * Buffers a run's metrics, samples, log lines and checkpoint records and writes them in batches: one
 * transaction per flush (arrays through `unnest`), so a flush lands whole or not at all. Metrics go
 * through `writeMetricPoints`: upserts on (run, key, step) — a resumed run that rewrites a step replaces
 * the point instead of duplicating it — that also keep the series' chart rollups exact.
 *
 * Through a database outage nothing is dropped: a failed write leaves the buffers as they were, and the
 * next one is tried with backoff (0.5 s doubling to 5 s). Buffers are bounded (TELEMETRY_BOUNDS). A
 * connection cut during COMMIT is resolved with `txid_status` before the batch is written again, so a
 * sample or log line is never stored twice.
 */
export class RunTelemetry {
  private metricBuffer = new Map<string, MetricPoint>();
  private sampleBuffer: SampleRecord[] = [];
  private logBuffer: LogLine[] = [];
  private checkpointBuffer: CheckpointRecord[] = [];
  private readonly dropped = { metricPoints: 0, samples: 0, logLines: 0 };
  private readonly bounds: Record<keyof typeof TELEMETRY_BOUNDS, number>;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private pending: Taken | undefined;
  private readonly sink: TelemetrySink;
  private failures = 0;
  private closed = false;
  /** When writes started failing for want of a database (undefined while it answers). */
  private unreachableSince: number | undefined;

  constructor(
    pool: pg.Pool,
    readonly runId: string,
    private readonly options: TelemetryOptions = {},
  ) {
    this.bounds = { ...TELEMETRY_BOUNDS, ...options.bounds };
    this.sink = options.sink ?? poolSink(pool);
    this.schedule(this.interval);
  }

  private get interval(): number {
    return this.options.flushIntervalMs ?? 1000;
  }

  metric(key: string, step: number, value: number): void {
    if (!Number.isFinite(value)) return; // NaN/∞ are reported as errors by the trainer, never charted
    const id = `${key}\u0000${step}`;
    if (!this.metricBuffer.has(id) && this.metricBuffer.size >= 2 * this.bounds.metricPoints) {
      this.dropped.metricPoints += 1;
      return;
    }
    this.metricBuffer.set(id, { key, step, value, wallTime: new Date() });
    if (this.metricBuffer.size >= (this.options.maxBuffered ?? 5000) && this.unreachableSince === undefined)
      void this.flush().catch(() => {});
  }

  metrics(step: number, values: Record<string, number | undefined>): void {
    for (const [key, value] of Object.entries(values)) if (value !== undefined) this.metric(key, step, value);
  }

  sample(sample: SampleRecord): void {
    if (this.sampleBuffer.length >= 2 * this.bounds.samples) this.dropped.samples += 1;
    else this.sampleBuffer.push(sample);
  }

  log(message: string, level: LogLevel = "info"): void {
    if (this.logBuffer.length >= 2 * this.bounds.logLines) this.dropped.logLines += 1;
    else this.logBuffer.push({ level, message, ts: new Date() });
  }

  /** Record a checkpoint with the next write, after every point buffered before it. */
  checkpoint(record: CheckpointRecord): void {
    this.checkpointBuffer.push(record);
  }

  /** Some buffer reached its bound: the run should stop and wait for the database. */
  get full(): boolean {
    return (
      this.metricBuffer.size >= this.bounds.metricPoints ||
      this.sampleBuffer.length >= this.bounds.samples ||
      this.logBuffer.length >= this.bounds.logLines
    );
  }

  /** Seconds since writes started failing because the database is unreachable; 0 while it answers. */
  get outageSeconds(): number {
    return this.unreachableSince === undefined ? 0 : (Date.now() - this.unreachableSince) / 1000;
  }

  /** Buffered, not yet written. */
  get buffered(): { metricPoints: number; samples: number; logLines: number; checkpoints: number } {
    return {
      metricPoints: this.metricBuffer.size,
      samples: this.sampleBuffer.length,
      logLines: this.logBuffer.length,
      checkpoints: this.checkpointBuffer.length,
    };
  }

  /**
   * Write everything buffered; calls are serialised so batches land in order. Rejects when the write
   * fails — the data stays buffered and a later flush (the timer's, with backoff) writes it.
   */
  flush(): Promise<void> {
    const next = this.flushing.then(() => this.writeOnce());
    this.flushing = next.catch(() => {});
    return next;
  }

  /**
   * Stop the timer and write everything, waiting out an outage of the database for as long as it lasts
   * (with backoff). Errors other than an unreachable database are thrown (the data stays buffered).
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.flush();
        // A write that ended an outage logs a line about it (and what was refused): write that too.
        if (Object.values(this.buffered).every((n) => n === 0)) return;
      } catch (error) {
        if (!isUnreachable(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt)));
      }
    }
  }

  private schedule(delay: number): void {
    clearTimeout(this.timer);
    if (this.closed || this.interval <= 0) return;
    this.timer = setTimeout(() => void this.flush().catch(() => {}), delay);
    this.timer.unref();
  }

  private async writeOnce(): Promise<void> {
    try {
      await this.write();
    } catch (error) {
      if (isUnreachable(error)) {
        if (this.unreachableSince === undefined) {
          this.unreachableSince = Date.now();
          this.options.onOutage?.({ state: "unreachable", error: rootMessage(error) });
        }
      }
      this.schedule(backoffMs(this.failures++));
      throw error;
    }
    if (this.unreachableSince !== undefined) {
      const seconds = (Date.now() - this.unreachableSince) / 1000;
      this.unreachableSince = undefined;
      this.options.onOutage?.({ state: "back", seconds });
    }
    this.failures = 0;
    this.reportDropped();
    this.schedule(this.interval);
  }

  /** Anything refused while the buffers were over twice their bounds goes into the run's log. */
  private reportDropped(): void {
    const { metricPoints, samples, logLines } = this.dropped;
    if (metricPoints + samples + logLines === 0) return;
    this.log(
      `telemetry buffers were full during a database outage: ${metricPoints} metric points, ${samples} samples and ${logLines} log lines were not kept`,
      "warn",
    );
    this.dropped.metricPoints = this.dropped.samples = this.dropped.logLines = 0;
  }

  private async write(): Promise<void> {
    // A batch whose COMMIT was cut off: written or not, the server knows.
    if (this.pending?.unsureXid) {
      if (await this.sink.committed(this.pending.unsureXid)) this.remove(this.pending);
      this.pending = undefined;
    }
    const taken: Taken = {
      points: [...this.metricBuffer.values()],
      samples: this.sampleBuffer.length,
      logs: this.logBuffer.length,
      checkpoints: this.checkpointBuffer.length,
    };
    if (taken.points.length + taken.samples + taken.logs + taken.checkpoints === 0) return;
    try {
      await this.sink.write(this.runId, {
        points: taken.points,
        samples: this.sampleBuffer.slice(0, taken.samples),
        logs: this.logBuffer.slice(0, taken.logs),
        checkpoints: this.checkpointBuffer.slice(0, taken.checkpoints),
      });
    } catch (error) {
      const unsureXid = (error as UnsureCommitError).unsureXid;
      if (unsureXid) this.pending = { ...taken, unsureXid };
      throw error;
    }
    this.remove(taken);
  }

  /** Take a written batch out of the buffers: points not replaced since, and the oldest lines and records. */
  private remove(batch: Taken): void {
    for (const point of batch.points) {
      const id = `${point.key}\u0000${point.step}`;
      if (this.metricBuffer.get(id) === point) this.metricBuffer.delete(id);
    }
    this.sampleBuffer.splice(0, batch.samples);
    this.logBuffer.splice(0, batch.logs);
    this.checkpointBuffer.splice(0, batch.checkpoints);
  }
}

/** The rows of one batch, inside the caller's transaction: metric points (and rollups), samples, lines, then checkpoints. */
async function insertBatch(client: pg.PoolClient, runId: string, batch: TelemetryBatch): Promise<void> {
  if (batch.points.length > 0) await writeMetricPoints(client, runId, batch.points);
  const { samples, logs } = batch;
  if (samples.length > 0) {
    await client.query(
      `insert into samples (run_id, step, prompt, response, reward, kl, extra)
       select $1, * from unnest($2::bigint[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::jsonb[])`,
      [
        runId,
        samples.map((s) => s.step),
        samples.map((s) => safeText(s.prompt)),
        samples.map((s) => safeText(s.response)),
        samples.map((s) => s.reward ?? null),
        samples.map((s) => s.kl ?? null),
        samples.map((s) => JSON.stringify(s.extra ?? {})),
      ],
    );
  }
  if (logs.length > 0) {
    await client.query(
      `insert into run_logs (run_id, level, message, ts)
       select $1, * from unnest($2::text[], $3::text[], $4::timestamptz[])`,
      [runId, logs.map((l) => l.level), logs.map((l) => safeText(l.message)), logs.map((l) => l.ts)],
    );
  }
  // Recorded last: a resumed run continues after its checkpoint, so the points before it come first.
  for (const c of batch.checkpoints) {
    await client.query(
      `insert into checkpoints (run_id, step, path, metrics, is_final) values ($1, $2, $3, $4, $5)
       on conflict (run_id, step) do update
         set path = excluded.path, metrics = excluded.metrics, is_final = excluded.is_final`,
      [runId, c.step, c.path, JSON.stringify(c.metrics), c.isFinal],
    );
  }
}
