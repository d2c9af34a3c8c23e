/**
 * Rollups of metric series, so that a chart's min/max/last per bucket need not scan every point.
 *
 * `metric_rollups` cuts each series into blocks of 32 · 16^level steps (`ROLLUP_SPANS`). A row per block
 * holding a point keeps the block's min, max and last point, its children in step order — the points of a
 * 32-step block, the non-empty blocks one level down otherwise — and, per child i, the index of the min
 * and of the max of children 1..i (prefix) and i..n (suffix), ties going to the earlier child. A bucket of
 * a chart is then whole blocks plus, where a bucket boundary falls inside a block, that block's prefix on
 * one side and its suffix on the other: one row per block and level, read in O(1), whatever the boundary
 * (`downsampleSeries` in ./index.ts). It is a segment tree whose nodes also answer prefix/suffix queries.
 *
 * Writers: `writeMetricPoints` (RunTelemetry; ingest) computes the rows of the 32-step blocks from the
 * points it has in hand — microseconds in JS, ~10 µs a point as window functions in SQL — and has SQL
 * rebuild only the blocks that already held points and the few rows of the levels above. Any other write
 * to `metrics` (an INSERT, UPDATE or DELETE of its own) fires triggers that rebuild the touched blocks
 * from the points (drizzle/0001_metric_rollups.sql): slower, equally exact.
 */
import type pg from "pg";

/** Block sizes in steps; the trigger functions of migration 0001 use the same. */
export const ROLLUP_SPANS = [32, 512, 8192, 131072] as const;
/** Children per block above the first level. */
export const ROLLUP_FANOUT = 16;
const BASE_SPAN = ROLLUP_SPANS[0];

export type Queryable = Pick<pg.ClientBase, "query">;

export interface MetricPoint {
  key: string;
  step: number;
  value: number;
  wallTime: Date;
}

/** PostgreSQL's order of float8: NaN above every number (and equal to itself). */
function above(a: number, b: number): boolean {
  return a > b || (Number.isNaN(a) && !Number.isNaN(b));
}

export interface PrefixSuffix {
  /** 1-based index of the smallest value among values[1..i] (the earliest on ties). */
  prefixMin: number[];
  prefixMax: number[];
  /** 1-based index of the smallest value among values[i..n] (the earliest on ties). */
  suffixMin: number[];
  suffixMax: number[];
}

/** The prefix/suffix indexes of one block's children, as the SQL rebuild computes them. */
export function prefixSuffix(values: readonly number[]): PrefixSuffix {
  const n = values.length;
  const out: PrefixSuffix = {
    prefixMin: new Array(n),
    prefixMax: new Array(n),
    suffixMin: new Array(n),
    suffixMax: new Array(n),
  };
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < n; i++) {
    if (above(values[lo]!, values[i]!)) lo = i;
    if (above(values[i]!, values[hi]!)) hi = i;
    out.prefixMin[i] = lo + 1;
    out.prefixMax[i] = hi + 1;
  }
  lo = n - 1;
  hi = n - 1;
  for (let i = n - 1; i >= 0; i--) {
    if (!above(values[i]!, values[lo]!)) lo = i;
    if (!above(values[hi]!, values[i]!)) hi = i;
    out.suffixMin[i] = lo + 1;
    out.suffixMax[i] = hi + 1;
  }
  return out;
}

/**
 * Write metric points of one run — upserts on (run, key, step): a point written again replaces the
 * earlier one — and keep the run's rollups exact. Call it inside a transaction: its advisory locks, the
 * trigger bypass it sets and the rollup rows all belong to that transaction.
 */
export async function writeMetricPoints(
  client: Queryable,
  runId: string,
  points: readonly MetricPoint[],
): Promise<void> {
  // One point per (key, step), the last given, sorted by key then step: a block's points are contiguous.
  const unique = new Map<string, MetricPoint>();
  for (const p of points) unique.set(`${p.key}\u0000${p.step}`, p);
  if (unique.size === 0) return;
  const sorted = [...unique.values()].sort((a, b) =>
    a.key === b.key ? a.step - b.step : a.key < b.key ? -1 : 1,
  );
  const values = sorted.map((p) => p.value);

  // The rows of the 32-step blocks touched, as 1-based ranges of `sorted` and per-point indexes.
  const blocks = {
    keys: [] as string[],
    blocks: [] as number[],
    first: [] as number[],
    last: [] as number[],
  };
  const indexes: PrefixSuffix = { prefixMin: [], prefixMax: [], suffixMin: [], suffixMax: [] };
  for (let start = 0; start < sorted.length; ) {
    const { key } = sorted[start]!;
    const block = Math.floor(sorted[start]!.step / BASE_SPAN);
    let end = start + 1;
    while (
      end < sorted.length &&
      sorted[end]!.key === key &&
      Math.floor(sorted[end]!.step / BASE_SPAN) === block
    )
      end++;
    const own = prefixSuffix(values.slice(start, end));
    indexes.prefixMin.push(...own.prefixMin);
    indexes.prefixMax.push(...own.prefixMax);
    indexes.suffixMin.push(...own.suffixMin);
    indexes.suffixMax.push(...own.suffixMax);
    blocks.keys.push(key);
    blocks.blocks.push(block);
    blocks.first.push(start + 1);
    blocks.last.push(end);
    start = end;
  }
  const keys = [...new Set(blocks.keys)];

  // 1. Take the series' locks; this transaction's writes to metrics then skip the rebuild triggers.
  await client.query(
    `select metric_rollups_lock(array_fill($1::uuid, array[cardinality($2::text[])]), $2::text[]),
            set_config('rlhf.metric_rollups', 'written', true)`,
    [runId, keys],
  );
  // 2. The points, and the rows of the blocks that held no point before (after each series' last step):
  //    those hold exactly the points given here. The other blocks are rebuilt from the points in 3.
  const { rows: written } = await client.query<{ key: string; block: string }>(
    `with given as (
       select $3::bigint[] as steps, $4::float8[] as vals,
              $6::int[] as prefix_min, $7::int[] as prefix_max, $8::int[] as suffix_min, $9::int[] as suffix_max
     ), latest as (
       select k.key, (select max(m.step) from metrics m where m.run_id = $1 and m.key = k.key) as step
       from unnest($10::text[]) as k(key)
     ), incoming as (
       select p.*, l.step is null or p.step > l.step as appended
       from unnest($2::text[], $3::bigint[], $4::float8[], $5::timestamptz[]) as p(key, step, value, wall_time)
       join latest l on l.key = p.key
     ), appended as (
       -- After the series' last step nothing can conflict (other writers wait for the lock): a plain
       -- insert, ~20% cheaper than the speculative insertion of ON CONFLICT.
       insert into metrics (run_id, key, step, value, wall_time)
       select $1, key, step, value, wall_time from incoming where appended
     ), rewritten as (
       insert into metrics (run_id, key, step, value, wall_time)
       select $1, key, step, value, wall_time from incoming where not appended
       on conflict (run_id, key, step) do update set value = excluded.value, wall_time = excluded.wall_time
     )
     insert into metric_rollups as r (
       run_id, key, span, block, min_step, min_value, max_step, max_value, last_step, last_value,
       child_min_steps, child_min_values, prefix_min, prefix_max, suffix_min, suffix_max
     )
     select $1, b.key, ${BASE_SPAN}, b.block,
       g.steps[b.first + g.prefix_min[b.last] - 1], g.vals[b.first + g.prefix_min[b.last] - 1],
       g.steps[b.first + g.prefix_max[b.last] - 1], g.vals[b.first + g.prefix_max[b.last] - 1],
       g.steps[b.last], g.vals[b.last],
       g.steps[b.first:b.last], g.vals[b.first:b.last],
       g.prefix_min[b.first:b.last], g.prefix_max[b.first:b.last],
       g.suffix_min[b.first:b.last], g.suffix_max[b.first:b.last]
     from unnest($11::text[], $12::bigint[], $13::int[], $14::int[]) as b(key, block, first, last)
     join latest l on l.key = b.key
     cross join given g
     where l.step is null or b.block * ${BASE_SPAN} > l.step
     order by b.key, b.block
     on conflict (run_id, key, span, block) do update set
       min_step = excluded.min_step, min_value = excluded.min_value,
       max_step = excluded.max_step, max_value = excluded.max_value,
       last_step = excluded.last_step, last_value = excluded.last_value,
       child_min_steps = excluded.child_min_steps, child_min_values = excluded.child_min_values,
       child_max_steps = null, child_max_values = null, child_last_steps = null, child_last_values = null,
       prefix_min = excluded.prefix_min, prefix_max = excluded.prefix_max,
       suffix_min = excluded.suffix_min, suffix_max = excluded.suffix_max
     returning r.key, r.block`,
    [
      runId,
      sorted.map((p) => p.key),
      sorted.map((p) => p.step),
      values,
      sorted.map((p) => p.wallTime),
      indexes.prefixMin,
      indexes.prefixMax,
      indexes.suffixMin,
      indexes.suffixMax,
      keys,
      blocks.keys,
      blocks.blocks,
      blocks.first,
      blocks.last,
    ],
  );
  // 3. Rebuild the other blocks from the points, then every level above the blocks touched.
  const done = new Set(written.map((w) => `${w.key}\u0000${w.block}`));
  await client.query(
    `select metric_rollups_refresh(array_fill($1::uuid, array[cardinality($2::text[])]), $2::text[], $3::bigint[], $4::boolean[]),
            set_config('rlhf.metric_rollups', '', true)`,
    [
      runId,
      blocks.keys,
      blocks.blocks,
      blocks.keys.map((key, i) => !done.has(`${key}\u0000${blocks.blocks[i]}`)),
    ],
  );
}
