/**
 * The buckets of a chart. A series is cut into buckets of `width` steps aligned to step 0 (bucket of
 * step s = ⌊s / width⌋), and each bucket keeps its smallest point, its largest and its last — the rule of
 * `downsampleSeries` in @rlhf/core/series, which the server applies in SQL. `width` is a power of two
 * chosen from the chart's step range, the same for every run on the chart.
 *
 * Aligned buckets are what make a live chart cheap and steady: new points only ever touch the last bucket
 * of a series (folded in here, from a cursor read of the points after the last step), earlier buckets never
 * change, and when a series outgrows the chart the width doubles and pairs of buckets merge — min of the
 * minima, max of the maxima, last of the lasts — giving exactly what the server would send at the new width.
 */

export interface Point {
  step: number;
  value: number;
  /** Wall time, ms since the epoch. */
  time: number;
}

/** One series as columns (what the server sends: smaller than an array of objects). */
export interface Columns {
  steps: number[];
  values: number[];
  times: number[];
}

export function toPoints(columns: Columns): Point[] {
  return columns.steps.map((step, i) => ({ step, value: columns.values[i]!, time: columns.times[i]! }));
}

export function toColumns(points: readonly Point[]): Columns {
  return {
    steps: points.map((p) => p.step),
    values: points.map((p) => p.value),
    times: points.map((p) => p.time),
  };
}

/** The smallest power-of-two width with which steps [fromStep, toStep] span at most `buckets` buckets. */
export function bucketWidthFor(fromStep: number, toStep: number, buckets: number): number {
  if (!(buckets >= 1)) throw new Error(`buckets must be ≥ 1 (got ${buckets})`);
  let width = 1;
  while (bucketCount(fromStep, toStep, width) > buckets) width *= 2;
  return width;
}

/** Buckets of `width` touched by steps [fromStep, toStep]. */
export function bucketCount(fromStep: number, toStep: number, width: number): number {
  return Math.floor(toStep / width) - Math.floor(fromStep / width) + 1;
}

/** The step range of the aligned buckets covering [fromStep, toStep]: what the SQL downsampler is given. */
export function alignedRange(
  fromStep: number,
  toStep: number,
  width: number,
): { fromStep: number; toStep: number; buckets: number } {
  const first = Math.floor(fromStep / width);
  const last = Math.floor(toStep / width);
  return { fromStep: first * width, toStep: (last + 1) * width - 1, buckets: last - first + 1 };
}

/**
 * Postgres orders NaN above every number; so does this, so the client picks the same points as the server.
 * Returns < 0, 0, > 0 like a comparator.
 */
function compareValues(a: number, b: number): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
  if (Number.isNaN(b)) return -1;
  return a - b;
}

/**
 * Per bucket of `width` steps: the point with the smallest value (earliest on ties), the one with the largest
 * (earliest on ties) and the last one; in step order, each point once. `points` must be in step order.
 */
export function downsampleMinMax(points: readonly Point[], width: number): Point[] {
  const kept: Point[] = [];
  let i = 0;
  while (i < points.length) {
    const bucket = Math.floor(points[i]!.step / width);
    let lo = points[i]!;
    let hi = points[i]!;
    let j = i;
    for (; j < points.length && Math.floor(points[j]!.step / width) === bucket; j++) {
      const p = points[j]!;
      // Strict comparisons keep the earliest point among equal values.
      if (compareValues(p.value, lo.value) < 0) lo = p;
      if (compareValues(p.value, hi.value) > 0) hi = p;
    }
    const last = points[j - 1]!;
    for (const p of [lo, hi, last].sort((a, b) => a.step - b.step)) {
      if (kept.at(-1)?.step !== p.step) kept.push(p);
    }
    i = j;
  }
  return kept;
}

/**
 * Fold the points read after a series' last step into its buckets: only the last bucket and later ones
 * change. `kept` is a downsampled series (or raw points); `incoming` are raw points after kept's last step.
 */
export function foldPoints(kept: readonly Point[], incoming: readonly Point[], width: number): Point[] {
  if (incoming.length === 0) return kept as Point[];
  const firstBucket = Math.floor(incoming[0]!.step / width);
  let cut = kept.length;
  while (cut > 0 && Math.floor(kept[cut - 1]!.step / width) >= firstBucket) cut--;
  const lastStep = kept.at(-1)?.step ?? -1;
  const fresh = incoming.filter((p) => p.step > lastStep);
  return [...kept.slice(0, cut), ...downsampleMinMax([...kept.slice(cut), ...fresh], width)];
}
