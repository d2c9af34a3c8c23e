/**
 * Chart data. A chart asks for one metric key of one or more runs at about its width in pixels; the
 * server picks a power-of-two bucket width for the chart's step range (the same for every run on it, so
 * their smoothing agrees) and downsamples each series in SQL with `downsampleSeries` — min, max and last
 * point of each bucket — so a million-point series arrives as at most ~3 points per pixel column and no
 * spike is lost. A live chart then reads only the points after its last step (`pointsAfter`) and folds
 * them into its buckets in the browser (src/lib/buckets.ts).
 */
import type { Database, Db } from "@rlhf/core/db";
import { downsampleSeries } from "@rlhf/core/series";
import { sql } from "@rlhf/core/trpc";
import { alignedRange, bucketWidthFor, type Columns } from "~/lib/buckets";

export interface SeriesRequest {
  runIds: string[];
  key: string;
  /** Buckets across the chart: its width in pixels. */
  buckets: number;
  /** Zoom: the visible step range (default: all of every run's series). */
  fromStep?: number;
  toStep?: number;
}

export interface ChartSeries {
  key: string;
  /** Steps per bucket; a live chart folds new points into buckets of this width. */
  bucketWidth: number;
  fromStep: number;
  toStep: number;
  runs: (Columns & { runId: string })[];
}

type Pool = Parameters<typeof downsampleSeries>[0];

/**
 * Downsampling queries run at most this many at a time per server process. A page of 20 charts asks for
 * 20 series at once; run all together on a 2-core database they all finish late, together. Queued, the
 * first charts arrive in a fraction of the time and the last no later (the work is the same).
 */
const MAX_CONCURRENT_SERIES = 3;
let running = 0;
const waiting: (() => void)[] = [];

async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT_SERIES) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

export async function chartSeries(
  { pool }: Pick<Database, "pool">,
  request: SeriesRequest,
): Promise<ChartSeries> {
  const { runIds, key } = request;
  // First and last step of each run's series: two primary-key probes per run, in one round trip.
  const { rows: bounds } = await pool.query<{ id: string; lo: string | null; hi: string | null }>(
    `select r.id,
       (select step from metrics where run_id = r.id and key = $2 order by step limit 1) as lo,
       (select step from metrics where run_id = r.id and key = $2 order by step desc limit 1) as hi
     from unnest($1::uuid[]) as r(id)`,
    [runIds, key],
  );
  const present = bounds.filter((b) => b.lo !== null);
  const empty: ChartSeries = { key, bucketWidth: 1, fromStep: 0, toStep: -1, runs: [] };
  if (present.length === 0) return empty;
  const lo = Math.max(request.fromStep ?? 0, Math.min(...present.map((b) => Number(b.lo))));
  const hi = Math.min(
    request.toStep ?? Number.MAX_SAFE_INTEGER,
    Math.max(...present.map((b) => Number(b.hi))),
  );
  if (hi < lo) return { ...empty, fromStep: lo, toStep: hi };
  const bucketWidth = bucketWidthFor(lo, hi, request.buckets);
  const range = alignedRange(lo, hi, bucketWidth);
  // The aligned range may reach below the zoom's first step; keep the request's bounds for the points.
  const fromStep = Math.max(range.fromStep, request.fromStep ?? range.fromStep);
  const toStep = Math.min(range.toStep, request.toStep ?? range.toStep);

  const series = await Promise.all(
    present.map(async ({ id }) => {
      const points = await limited(() => downsampleSeries(pool, id, key, range));
      const inRange = points.filter((p) => p.step >= fromStep && p.step <= toStep);
      const steps = inRange.map((p) => p.step);
      return {
        runId: id,
        steps,
        values: inRange.map((p) => p.value),
        times: await wallTimes(pool, id, key, steps),
      };
    }),
  );
  // In the order asked for, so colours stay with runs.
  series.sort((a, b) => runIds.indexOf(a.runId) - runIds.indexOf(b.runId));
  return { key, bucketWidth, fromStep, toStep, runs: series };
}

/** Wall times (ms since the epoch) of the given steps of a series, by primary-key lookups. */
async function wallTimes(pool: Pool, runId: string, key: string, steps: number[]): Promise<number[]> {
  if (steps.length === 0) return [];
  const { rows } = await pool.query<{ step: string; t: number }>(
    `select step, extract(epoch from wall_time) * 1000 as t
     from metrics where run_id = $1 and key = $2 and step = any($3::bigint[])`,
    [runId, key, steps],
  );
  const byStep = new Map(rows.map((r) => [Number(r.step), Number(r.t)]));
  return steps.map((s) => byStep.get(s) ?? Number.NaN);
}

export interface Cursor {
  runId: string;
  key: string;
  /** The last step the chart has; only later points are returned. */
  afterStep: number;
}

/**
 * The points after each cursor, with their wall times, in one round trip (a primary-key range scan per
 * cursor): what a live page polls. At most `limit` points per cursor; a chart that got `limit` asks again.
 */
export async function pointsAfter(db: Db, cursors: Cursor[], limit = 5000): Promise<(Columns & Cursor)[]> {
  if (cursors.length === 0) return [];
  const { rows } = await db.execute<{ i: string; step: string; value: number; t: number }>(sql`
    select c.i, m.step, m.value, extract(epoch from m.wall_time) * 1000 as t
    from unnest(
      ${sql.param(cursors.map((c) => c.runId))}::uuid[],
      ${sql.param(cursors.map((c) => c.key))}::text[],
      ${sql.param(cursors.map((c) => c.afterStep))}::bigint[]
    ) with ordinality as c(run_id, key, after_step, i)
    cross join lateral (
      select step, value, wall_time from metrics
      where run_id = c.run_id and key = c.key and step > c.after_step
      order by step limit ${limit}
    ) m
    order by c.i, m.step`);
  const out = cursors.map((c) => ({
    ...c,
    steps: [] as number[],
    values: [] as number[],
    times: [] as number[],
  }));
  for (const row of rows) {
    const series = out[Number(row.i) - 1]!;
    series.steps.push(Number(row.step));
    series.values.push(row.value);
    series.times.push(Number(row.t));
  }
  return out;
}
