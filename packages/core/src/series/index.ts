/**
 * Reading a metric series for a chart. A curve of a million points is drawn from a few thousand: the
 * step range is cut into `buckets` equal slices (one per pixel column) and each slice keeps its minimum,
 * its maximum and its last point — spikes survive (unlike TensorBoard's reservoir sampling) and the
 * curve ends where the run is. Computed in SQL in one pass over the (run, key, step) primary key.
 */
import type pg from "pg";

export interface SeriesPoint {
  step: number;
  value: number;
}

export interface DownsampleOptions {
  /** Slices of the step range, e.g. the chart's width in pixels. */
  buckets: number;
  /** First step of the range (default: the series' first). */
  fromStep?: number;
  /** Last step of the range, inclusive (default: the series' last). */
  toStep?: number;
}

type Queryable = Pick<pg.Pool, "query">;

/** The bucket of `step` when [fromStep, toStep] is cut into `buckets` equal slices. */
export function bucketOf(step: number, fromStep: number, toStep: number, buckets: number): number {
  return Math.min(Math.floor(((step - fromStep) * buckets) / (toStep - fromStep + 1)), buckets - 1);
}

/**
 * Downsample one series: per bucket the point with the smallest value, the one with the largest (the
 * earliest step on ties) and the last one; at most 3 × buckets points, in step order.
 */
export async function downsampleSeries(
  pool: Queryable,
  runId: string,
  key: string,
  options: DownsampleOptions,
): Promise<SeriesPoint[]> {
  const buckets = Math.floor(options.buckets);
  if (!(buckets >= 1)) throw new Error(`buckets must be ≥ 1 (got ${options.buckets})`);
  let { fromStep, toStep } = options;
  if (fromStep === undefined || toStep === undefined) {
    // Two index probes (the first and last entries of the series in the primary key).
    const bounds = await pool.query<{ lo: string | null; hi: string | null }>(
      "select min(step) as lo, max(step) as hi from metrics where run_id = $1 and key = $2",
      [runId, key],
    );
    if (bounds.rows[0]?.lo == null) return [];
    fromStep ??= Number(bounds.rows[0].lo);
    toStep ??= Number(bounds.rows[0].hi);
  }
  if (toStep < fromStep) return [];
  // Arrays compare element by element: min(array[value, step]) is the smallest value at its earliest
  // step, max(array[value, -step]) the largest at its earliest, max(array[step, value]) the last point.
  const { rows } = await pool.query<{ step: string; value: number }>(
    `with slices as (
       select min(array[value, step]) as lo_point,
              max(array[value, -step]) as hi_point,
              max(array[step, value]) as last_point
       from metrics
       where run_id = $1 and key = $2 and step between $3 and $4
       group by least(((step - $3) * $5) / ($4 - $3 + 1), $5 - 1)
     )
     select distinct step, value from (
       select lo_point[2]::bigint as step, lo_point[1] as value from slices
       union all select (-hi_point[2])::bigint, hi_point[1] from slices
       union all select last_point[1]::bigint, last_point[2] from slices
     ) kept
     order by step`,
    [runId, key, fromStep, toStep, buckets],
  );
  return rows.map((r) => ({ step: Number(r.step), value: r.value }));
}

/** Points after `afterStep`, in step order: what a live chart appends since its last read. */
export async function seriesSince(
  pool: Queryable,
  runId: string,
  key: string,
  afterStep: number,
  limit = 10_000,
): Promise<SeriesPoint[]> {
  const { rows } = await pool.query<{ step: string; value: number }>(
    `select step, value from metrics where run_id = $1 and key = $2 and step > $3 order by step limit $4`,
    [runId, key, afterStep, limit],
  );
  return rows.map((r) => ({ step: Number(r.step), value: r.value }));
}
