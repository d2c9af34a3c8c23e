import type pg from "pg";

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
 * flush, arrays through `unnest`). Metrics are upserts on (run, key, step): a resumed run that rewrites a
 * step replaces the point instead of duplicating it.
 */
export class RunTelemetry {
  private metricBuffer = new Map<string, { key: string; step: number; value: number; wallTime: Date }>();
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
      await this.pool.query(
        `insert into metrics (run_id, key, step, value, wall_time)
         select $1, * from unnest($2::text[], $3::bigint[], $4::float8[], $5::timestamptz[])
         on conflict (run_id, key, step) do update set value = excluded.value, wall_time = excluded.wall_time`,
        [
          this.runId,
          points.map((p) => p.key),
          points.map((p) => p.step),
          points.map((p) => p.value),
          points.map((p) => p.wallTime),
        ],
      );
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
