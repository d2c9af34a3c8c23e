import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runs } from "../src/db/schema";
import { createTestDatabase, type TestDatabase } from "../src/db/testing";
import { bucketOf, downsampleSeries, type SeriesPoint, seriesSince } from "../src/series";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => t?.drop());

/** The plain reference: walk the points in step order; per bucket keep min, max (earliest on ties) and last. */
function reference(
  points: SeriesPoint[],
  buckets: number,
  fromStep?: number,
  toStep?: number,
): SeriesPoint[] {
  const sorted = [...points].sort((a, b) => a.step - b.step);
  if (sorted.length === 0) return [];
  const lo = fromStep ?? sorted[0]!.step;
  const hi = toStep ?? sorted.at(-1)!.step;
  const kept = new Map<number, { min: SeriesPoint; max: SeriesPoint; last: SeriesPoint }>();
  for (const p of sorted) {
    if (p.step < lo || p.step > hi) continue;
    const b = Math.min(Math.floor(((p.step - lo) * buckets) / (hi - lo + 1)), buckets - 1);
    const k = kept.get(b);
    if (!k) kept.set(b, { min: p, max: p, last: p });
    else {
      if (p.value < k.min.value) k.min = p;
      if (p.value > k.max.value) k.max = p;
      k.last = p;
    }
  }
  const bySteps = new Map<number, SeriesPoint>();
  for (const k of kept.values()) for (const p of [k.min, k.max, k.last]) bySteps.set(p.step, p);
  return [...bySteps.values()].sort((a, b) => a.step - b.step);
}

/** A deterministic series with gaps, ties (values on a coarse grid) and spikes. */
function makeSeries(n: number, seed: number): SeriesPoint[] {
  let state = seed;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const points: SeriesPoint[] = [];
  let step = Math.floor(random() * 10);
  for (let i = 0; i < n; i++) {
    const spike = random() < 0.01 ? 10 * (random() - 0.5) : 0;
    points.push({ step, value: Math.round((Math.exp(-i / 500) + random() * 0.2 + spike) * 20) / 20 });
    step += 1 + (random() < 0.1 ? Math.floor(random() * 20) : 0);
  }
  return points;
}

async function insertSeries(key: string, points: SeriesPoint[]): Promise<string> {
  const [run] = await t.db.insert(runs).values({ name: key, kind: "pretrain", config: {} }).returning();
  await t.pool.query(
    `insert into metrics (run_id, key, step, value) select $1, $2, * from unnest($3::bigint[], $4::float8[])`,
    [run!.id, key, points.map((p) => p.step), points.map((p) => p.value)],
  );
  return run!.id;
}

describe("downsampleSeries", () => {
  it("keeps exactly the min, max and last of each bucket, as the plain reference does", async () => {
    const points = makeSeries(5000, 7);
    const runId = await insertSeries("loss", points);
    const first = points[0]!.step;
    const last = points.at(-1)!.step;
    const cases: { buckets: number; fromStep?: number; toStep?: number }[] = [
      { buckets: 1 },
      { buckets: 7 },
      { buckets: 100 },
      { buckets: 1500 },
      { buckets: 20_000 }, // more buckets than points: every point is kept
      { buckets: 50, fromStep: first + 1000, toStep: first + 3000 },
      { buckets: 33, fromStep: first - 100, toStep: last + 100 }, // a range wider than the data
      { buckets: 10, fromStep: last - 5, toStep: last + 1000 },
    ];
    for (const c of cases) {
      const got = await downsampleSeries(t.pool, runId, "loss", c);
      expect(got, JSON.stringify(c)).toEqual(reference(points, c.buckets, c.fromStep, c.toStep));
      expect(got.length).toBeLessThanOrEqual(3 * c.buckets);
    }
    const whole = await downsampleSeries(t.pool, runId, "loss", { buckets: 20_000 });
    expect(whole).toEqual(points);
  });

  it("always ends at the series' last point, and keeps a lone spike", async () => {
    const points = Array.from({ length: 1000 }, (_, i) => ({ step: i, value: i === 501 ? 99 : 1 }));
    const runId = await insertSeries("spiky", points);
    const got = await downsampleSeries(t.pool, runId, "spiky", { buckets: 4 });
    expect(got.at(-1)).toEqual({ step: 999, value: 1 });
    expect(got).toContainEqual({ step: 501, value: 99 });
    // Flat buckets keep their first point (min and max on ties) and their last.
    expect(got).toEqual([
      { step: 0, value: 1 },
      { step: 249, value: 1 },
      { step: 250, value: 1 },
      { step: 499, value: 1 },
      { step: 500, value: 1 },
      { step: 501, value: 99 },
      { step: 749, value: 1 },
      { step: 750, value: 1 },
      { step: 999, value: 1 },
    ]);
  });

  it("an empty or unknown series gives no points; bad bucket counts are refused", async () => {
    const runId = await insertSeries("one", [{ step: 42, value: -1.5 }]);
    expect(await downsampleSeries(t.pool, runId, "missing", { buckets: 10 })).toEqual([]);
    expect(await downsampleSeries(t.pool, runId, "one", { buckets: 10 })).toEqual([
      { step: 42, value: -1.5 },
    ]);
    await expect(downsampleSeries(t.pool, runId, "one", { buckets: 0 })).rejects.toThrow(/buckets/);
  });

  it("bucketOf cuts the range into equal slices", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((s) => bucketOf(s, 0, 9, 3))).toEqual([
      0, 0, 0, 0, 1, 1, 1, 2, 2, 2,
    ]);
    expect(bucketOf(100, 100, 100, 5)).toBe(0);
  });
});

describe("seriesSince", () => {
  it("returns the points after a step, in order", async () => {
    const points = makeSeries(300, 3);
    const runId = await insertSeries("tail", points);
    const after = points[250]!.step;
    expect(await seriesSince(t.pool, runId, "tail", after)).toEqual(points.slice(251));
    expect(await seriesSince(t.pool, runId, "tail", after, 10)).toEqual(points.slice(251, 261));
  });
});
