/**
 * Reading a metric series for a chart. A curve of a million points is drawn from a few thousand: the
 * step range is cut into `buckets` equal slices (one per pixel column) and each slice keeps its minimum,
 * its maximum and its last point — spikes survive (unlike TensorBoard's reservoir sampling) and the
 * curve ends where the run is. Computed in SQL from the series' rollups (./rollups.ts): the blocks a
 * bucket covers whole, and at each bucket boundary the prefix and suffix of the one block per level it
 * falls inside — exact for any range and bucket count, in time proportional to the buckets, not the points.
 */
import type pg from "pg";
import { ROLLUP_FANOUT, ROLLUP_SPANS } from "./rollups";

export { type MetricPoint, prefixSuffix, ROLLUP_SPANS, writeMetricPoints } from "./rollups";

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
 * The first step of each bucket, then toStep + 1: bucket i is [bounds[i], bounds[i + 1] − 1] (empty when
 * the two are equal). Exact integer arithmetic: bounds[i] = fromStep + ⌈i · width / buckets⌉.
 */
export function bucketBounds(fromStep: number, toStep: number, buckets: number): number[] {
  const width = BigInt(toStep - fromStep + 1);
  const n = BigInt(buckets);
  const bounds: number[] = [];
  for (let i = 0n; i <= n; i++) bounds.push(fromStep + Number((i * width + n - 1n) / n));
  return bounds;
}

export interface CutBlocks {
  span: number;
  /** Blocks of `span` steps with a bound strictly inside (bound − 1 and bound in the block)… */
  blocks: number[];
  /** …and the first and last such bound. */
  firstBounds: number[];
  lastBounds: number[];
}

/** Per rollup span, the blocks that bucket bounds cut: where prefixes and suffixes are read. */
export function cutBlocks(bounds: readonly number[]): CutBlocks[] {
  return ROLLUP_SPANS.map((span) => {
    const cut: CutBlocks = { span, blocks: [], firstBounds: [], lastBounds: [] };
    for (const bound of bounds) {
      if (((bound % span) + span) % span === 0) continue;
      const block = Math.floor(bound / span);
      if (cut.blocks.at(-1) === block) cut.lastBounds[cut.lastBounds.length - 1] = bound;
      else {
        cut.blocks.push(block);
        cut.firstBounds.push(bound);
        cut.lastBounds.push(bound);
      }
    }
    return cut;
  });
}

const TOP_SPAN = ROLLUP_SPANS.at(-1)!;

// $3..$5: fromStep, toStep, buckets. Steps [lo, hi] lie in one bucket of the range.
const inOneBucket = (lo: string, hi: string) =>
  `(${lo} >= $3 and ${hi} <= $4 and (${lo} - $3) * $5 / ($4 - $3 + 1) = (${hi} - $3) * $5 / ($4 - $3 + 1))`;
// The span of a block's children: one step (a point) at the first level.
const childSpan = (span: string) =>
  `(case when ${span} = ${ROLLUP_SPANS[0]} then 1 else ${span} / ${ROLLUP_FANOUT} end)`;

/**
 * The pieces a range's buckets are made of, each with its min, max and last point:
 *   - top-level blocks inside one bucket, whole;
 *   - for a block that bounds cut: its children before the first bound (a prefix, children 1..j), its
 *     children from the last bound on (a suffix, children k+1..n) and, if several bounds cut it, its
 *     children between them that lie inside one bucket. A child a bound cuts is itself a cut block one
 *     level down (at the first level, children are points and never cut).
 * Then min/max/last per bucket, as the plain scan did (arrays compare element by element: min of
 * [value, step] is the smallest value at its earliest step, max of [value, −step] the largest at its
 * earliest, max of [step, value] the last point).
 */
const DOWNSAMPLE_SQL = `
with cut as (
  select c.first_bound, c.last_bound, c.child_span, w.j, w.k, w.n,
    r.child_min_steps[r.prefix_min[w.j]] as prefix_min_step, r.child_min_values[r.prefix_min[w.j]] as prefix_min_value,
    (coalesce(r.child_max_steps, r.child_min_steps))[r.prefix_max[w.j]] as prefix_max_step,
    (coalesce(r.child_max_values, r.child_min_values))[r.prefix_max[w.j]] as prefix_max_value,
    (coalesce(r.child_last_steps, r.child_min_steps))[w.j] as prefix_last_step,
    (coalesce(r.child_last_values, r.child_min_values))[w.j] as prefix_last_value,
    r.child_min_steps[r.suffix_min[w.k + 1]] as suffix_min_step, r.child_min_values[r.suffix_min[w.k + 1]] as suffix_min_value,
    (coalesce(r.child_max_steps, r.child_min_steps))[r.suffix_max[w.k + 1]] as suffix_max_step,
    (coalesce(r.child_max_values, r.child_min_values))[r.suffix_max[w.k + 1]] as suffix_max_value,
    r.last_step, r.last_value,
    -- Several bounds in the block: its children, for those between the first and the last.
    case when c.first_bound < c.last_bound then r.child_min_steps end as child_min_steps,
    case when c.first_bound < c.last_bound then r.child_min_values end as child_min_values,
    case when c.first_bound < c.last_bound then coalesce(r.child_max_steps, r.child_min_steps) end as child_max_steps,
    case when c.first_bound < c.last_bound then coalesce(r.child_max_values, r.child_min_values) end as child_max_values,
    case when c.first_bound < c.last_bound then coalesce(r.child_last_steps, r.child_min_steps) end as child_last_steps,
    case when c.first_bound < c.last_bound then coalesce(r.child_last_values, r.child_min_values) end as child_last_values
  from unnest($6::int[], $7::bigint[], $8::bigint[], $9::bigint[]) as c0(span, block, first_bound, last_bound)
  cross join lateral (select c0.*, ${childSpan("c0.span")} as child_span) c
  -- One primary-key probe per cut block, whatever the row estimates (offset 0 keeps the planner from
  -- turning it into a join that scans the series' rollups, or the list, once per row of the other).
  cross join lateral (
    select * from metric_rollups r
    where r.run_id = $1 and r.key = $2 and r.span = c.span and r.block = c.block
    offset 0
  ) r
  cross join lateral (
    select cardinality(r.child_min_steps) as n,
      width_bucket(c.first_bound / c.child_span * c.child_span - 1, r.child_min_steps) as j,
      width_bucket((c.last_bound + c.child_span - 1) / c.child_span * c.child_span - 1, r.child_min_steps) as k
  ) w
), pieces as (
  select min_step, min_value, max_step, max_value, last_step, last_value
  from metric_rollups r
  where r.run_id = $1 and r.key = $2 and r.span = ${TOP_SPAN} and r.block between $10 and $11
    and ${inOneBucket(`r.block * ${TOP_SPAN}`, `r.block * ${TOP_SPAN} + ${TOP_SPAN - 1}`)}
  union all
  select prefix_min_step, prefix_min_value, prefix_max_step, prefix_max_value, prefix_last_step, prefix_last_value
  from cut
  where j > 0 and first_bound > $3
  union all
  select suffix_min_step, suffix_min_value, suffix_max_step, suffix_max_value, last_step, last_value
  from cut
  where k < n and last_bound <= $4
  union all
  select x.*
  from cut c
  cross join lateral unnest(
    c.child_min_steps, c.child_min_values, c.child_max_steps, c.child_max_values, c.child_last_steps, c.child_last_values
  ) as x(min_step, min_value, max_step, max_value, last_step, last_value)
  where c.first_bound < c.last_bound
    and x.min_step / c.child_span * c.child_span >= c.first_bound
    and x.min_step / c.child_span * c.child_span + c.child_span - 1 < c.last_bound
    and ${inOneBucket("x.min_step / c.child_span * c.child_span", "x.min_step / c.child_span * c.child_span + c.child_span - 1")}
), slices as (
  select min(array[min_value, min_step]) as lo_point,
         max(array[max_value, -max_step]) as hi_point,
         max(array[last_step, last_value]) as last_point
  from pieces
  group by (min_step - $3) * $5 / ($4 - $3 + 1)
)
select distinct step, value from (
  select lo_point[2]::bigint as step, lo_point[1] as value from slices
  union all select (-hi_point[2])::bigint, hi_point[1] from slices
  union all select last_point[1]::bigint, last_point[2] from slices
) kept
order by step`;

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
  const cuts = cutBlocks(bucketBounds(fromStep, toStep, buckets));
  const { rows } = await pool.query<{ step: string; value: number }>({
    // Prepared once per connection: no replanning (~2 ms a call). The probes are forced (`offset 0`
    // above), so the generic plan PostgreSQL settles on is as good as a custom one.
    name: "rlhf-downsample-series",
    text: DOWNSAMPLE_SQL,
    values: [
      runId,
      key,
      fromStep,
      toStep,
      buckets,
      cuts.flatMap((c) => c.blocks.map(() => c.span)),
      cuts.flatMap((c) => c.blocks),
      cuts.flatMap((c) => c.firstBounds),
      cuts.flatMap((c) => c.lastBounds),
      Math.max(0, Math.floor(fromStep / TOP_SPAN)),
      Math.floor(toStep / TOP_SPAN),
    ],
  });
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
