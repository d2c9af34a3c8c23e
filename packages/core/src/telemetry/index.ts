import type pg from "pg";
import { type MetricPoint, writeMetricPoints } from "../series/rollups";

export interface SampleRecord {
  step: number;
  prompt: string;
  response: string;
  reward?: number | null;
  kl?: number | null;
  extra?: Record<string, unknown>;
}

/** PostgreSQL text cannot hold NUL; an untrained model happily emits it. */
const safeText = (text: string) => text.replaceAll("\u0000", "\uFFFD");

export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * Buffers a run's metrics, samples and log lines and writes them in batches (one statement per kind and
 * flush, arrays through `unnest`). Metrics go through `writeMetricPoints`: upserts on (run, key, step) —
 * a resumed run that rewrites a step replaces the point instead of duplicating it — that also keep the
 * series' chart rollups exact.
 */
export class RunTelemetry {
  private metricBuffer = new Map<string, MetricPoint>();
  private sampleBuffer: SampleRecord[] = [];
  private logBuffer: { level: LogLevel; message: string; ts: Date }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly pool: pg.Pool,
    readonly runId: string,
    private readonly options: { flushIntervalMs?: number; maxBuffered?: number } = {},
  ) {
    const interval = options.flushIntervalMs ?? 1000;
    if (interval > 0) {
      this.timer = setInterval(() => void this.flush().catch(() => {}), interval);
      this.timer.unref();
    }
  }

  metric(key: string, step: number, value: number): void {
    if (!Number.isFinite(value)) return; // NaN/∞ are reported as errors by the trainer, never charted
    this.metricBuffer.set(`${key}\u0000${step}`, { key, step, value, wallTime: new Date() });
    if (this.metricBuffer.size >= (this.options.maxBuffered ?? 5000)) void this.flush();
  }

  metrics(step: number, values: Record<string, number | undefined>): void {
    for (const [key, value] of Object.entries(values)) if (value !== undefined) this.metric(key, step, value);
  }

  sample(sample: SampleRecord): void {
    this.sampleBuffer.push(sample);
  }

  log(message: string, level: LogLevel = "info"): void {
    this.logBuffer.push({ level, message, ts: new Date() });
  }

  /** Write everything buffered; calls are serialised so batches land in order. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }

  private async write(): Promise<void> {
    const points = [...this.metricBuffer.values()];
    const samples = this.sampleBuffer;
    const logs = this.logBuffer;
    this.metricBuffer = new Map();
    this.sampleBuffer = [];
    this.logBuffer = [];
    if (points.length > 0) {
      const client = await this.pool.connect();
      try {
        await client.query("begin");
        // A flush need not wait for its WAL to reach the disk: a server crash loses at most the last
        // ~0.6 s of points (never a partial batch), which a resumed run writes again from its checkpoint.
        await client.query("set local synchronous_commit = off");
        await writeMetricPoints(client, this.runId, points);
        await client.query("commit");
      } catch (error) {
        await client.query("rollback").catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    }
    if (samples.length > 0) {
      await this.pool.query(
        `insert into samples (run_id, step, prompt, response, reward, kl, extra)
         select $1, * from unnest($2::bigint[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::jsonb[])`,
        [
          this.runId,
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
      await this.pool.query(
        `insert into run_logs (run_id, level, message, ts)
         select $1, * from unnest($2::text[], $3::text[], $4::timestamptz[])`,
        [this.runId, logs.map((l) => l.level), logs.map((l) => safeText(l.message)), logs.map((l) => l.ts)],
      );
    }
  }
}
