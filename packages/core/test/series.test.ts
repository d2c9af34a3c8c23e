import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runs } from "../src/db/schema";
import { createTestDatabase, type TestDatabase } from "../src/db/testing";
import { ingest } from "../src/ingest";
import {
  bucketBounds,
  bucketOf,
  cutBlocks,
  downsampleSeries,
  type MetricPoint,
  prefixSuffix,
  ROLLUP_SPANS,
  type SeriesPoint,
  seriesSince,
  writeMetricPoints,
} from "../src/series";

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

function randomness(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** A deterministic series with gaps, ties (values on a coarse grid) and spikes. */
function makeSeries(n: number, seed: number, { gap = 0.1, firstStep = -1 } = {}): SeriesPoint[] {
  const random = randomness(seed);
  const points: SeriesPoint[] = [];
  let step = firstStep >= 0 ? firstStep : Math.floor(random() * 10);
  for (let i = 0; i < n; i++) {
    const spike = random() < 0.01 ? 10 * (random() - 0.5) : 0;
    // (+ 0: a −0 would come back from PostgreSQL as 0.)
    points.push({ step, value: Math.round((Math.exp(-i / 500) + random() * 0.2 + spike) * 20) / 20 + 0 });
    step += 1 + (random() < gap ? Math.floor(random() * 20) : 0);
  }
  return points;
}

async function newRun(name: string): Promise<string> {
  const [run] = await t.db.insert(runs).values({ name, kind: "pretrain", config: {} }).returning();
  return run!.id;
}

/** A plain INSERT, as any writer other than writeMetricPoints would do it: the triggers keep the rollups. */
async function insertSeries(key: string, points: SeriesPoint[], runId?: string): Promise<string> {
  const id = runId ?? (await newRun(key));
  await t.pool.query(
    `insert into metrics (run_id, key, step, value) select $1, $2, * from unnest($3::bigint[], $4::float8[])`,
    [id, key, points.map((p) => p.step), points.map((p) => p.value)],
  );
  return id;
}

async function inTransaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await t.pool.connect();
  try {
    await client.query("begin");
    const result = await fn(client);
    await client.query("commit");
    return result;
  } catch (error) {
    await client.query("rollback");
    throw error;
  } finally {
    client.release();
  }
}

const asMetricPoints = (key: string, points: SeriesPoint[]): MetricPoint[] =>
  points.map((p) => ({ key, ...p, wallTime: new Date() }));

/** Write through writeMetricPoints in batches of random sizes, as RunTelemetry's flushes do. */
async function writeSeries(runId: string, key: string, points: SeriesPoint[], seed = 1): Promise<void> {
  const random = randomness(seed);
  for (let start = 0; start < points.length; ) {
    const end = Math.min(points.length, start + 1 + Math.floor(random() * 3000));
    await inTransaction((c) => writeMetricPoints(c, runId, asMetricPoints(key, points.slice(start, end))));
    start = end;
  }
}

async function rollupRows(runId: string) {
  const { rows } = await t.pool.query(
    "select * from metric_rollups where run_id = $1 order by key, span, block",
    [runId],
  );
  return rows;
}

/** Rebuild every rollup row of the run from its points with the SQL the triggers use. */
async function rebuildFromPoints(runId: string): Promise<void> {
  await t.pool.query(
    `select metric_rollups_refresh(array_agg(run_id), array_agg(key), array_agg(block), array_agg(true))
     from (select distinct run_id, key, step / 32 as block from metrics where run_id = $1) t`,
    [runId],
  );
}

/** Ranges that start and end inside blocks of every level, and bucket counts from 1 to past the points. */
function randomCases(points: SeriesPoint[], seed: number, count: number) {
  const random = randomness(seed);
  const first = points[0]!.step;
  const last = points.at(-1)!.step;
  const cases: DownsampleCase[] = [{ buckets: 1 }, { buckets: 1500 }, { buckets: 1777 }];
  for (let i = 0; i < count; i++) {
    const a = first - 50 + Math.floor(random() * (last - first + 100));
    const b = first - 50 + Math.floor(random() * (last - first + 100));
    const [fromStep, toStep] = a <= b ? [a, b] : [b, a];
    // Bucket widths from a few steps (narrower than a 32-step block) to the whole range.
    const buckets = Math.min(5000, 1 + Math.floor((toStep - fromStep + 1) / 2 ** (random() * 14)));
    cases.push(random() < 0.2 ? { buckets } : { buckets, fromStep, toStep });
  }
  return cases;
}

interface DownsampleCase {
  buckets: number;
  fromStep?: number;
  toStep?: number;
}

async function expectExact(runId: string, key: string, points: SeriesPoint[], cases: DownsampleCase[]) {
  for (const c of cases) {
    const got = await downsampleSeries(t.pool, runId, key, c);
    expect(got, JSON.stringify(c)).toEqual(reference(points, c.buckets, c.fromStep, c.toStep));
  }
}

describe("downsampleSeries", () => {
  it("keeps exactly the min, max and last of each bucket, as the plain reference does", async () => {
    const points = makeSeries(5000, 7);
    const runId = await insertSeries("loss", points);
    const first = points[0]!.step;
    const last = points.at(-1)!.step;
    const cases: DownsampleCase[] = [
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

  it("is exact for random series, ranges and bucket counts, written by writeMetricPoints", async () => {
    // 40,000 points over ~60,000 steps: blocks of every span but the top one are cut by buckets.
    const points = makeSeries(40_000, 11);
    const runId = await newRun("random");
    await writeSeries(runId, "loss", points);
    await expectExact(runId, "loss", points, randomCases(points, 5, 60));
  });

  it("is exact where buckets are wider than the top-level blocks (sparse steps, whole blocks read)", async () => {
    // Every 97th step up to ~700,000: top-level blocks of 131,072 steps fall inside one bucket.
    const points = makeSeries(7_000, 3, { gap: 0 }).map((p, i) => ({ step: i * 97, value: p.value }));
    const runId = await newRun("sparse");
    await writeSeries(runId, "eval/score", points, 2);
    const cases: DownsampleCase[] = [
      { buckets: 1 },
      { buckets: 2 },
      { buckets: 3, fromStep: 1, toStep: 679_000 },
      ...randomCases(points, 9, 20),
    ];
    await expectExact(runId, "eval/score", points, cases);
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
});

describe("rollups stay exact", () => {
  it("when a resumed run rewrites steps: spikes appear and vanish", async () => {
    const runId = await newRun("resumed");
    const before = makeSeries(20_000, 21, { gap: 0, firstStep: 0 });
    await writeSeries(runId, "loss", before, 4);
    // The resumed attempt rewrites from step 12,345 on, without the spikes of the first attempt, plus
    // one new spike; some steps it logged before it does not log again.
    const resumed = makeSeries(9_000, 22, { gap: 0.05, firstStep: 12_345 }).map((p) => ({
      step: p.step,
      value: p.step === 15_000 ? 1e6 : Math.min(p.value, 2),
    }));
    await writeSeries(runId, "loss", resumed, 5);
    const merged = new Map(before.map((p) => [p.step, p]));
    for (const p of resumed) merged.set(p.step, p);
    const points = [...merged.values()].sort((a, b) => a.step - b.step);
    await expectExact(runId, "loss", points, randomCases(points, 6, 30));
    expect(await downsampleSeries(t.pool, runId, "loss", { buckets: 3 })).toContainEqual({
      step: 15_000,
      value: 1e6,
    });
  });

  it("under plain INSERT, UPDATE and DELETE (the triggers), and drops with the run", async () => {
    const points = makeSeries(6_000, 31);
    const runId = await insertSeries("loss", points);
    await insertSeries("other", makeSeries(500, 32), runId);
    await t.pool.query(
      "update metrics set value = value * -3 where run_id = $1 and key = 'loss' and step % 7 = 0",
      [runId],
    );
    await t.pool.query(
      "delete from metrics where run_id = $1 and key = 'loss' and step between 2000 and 2600",
      [runId],
    );
    const { rows } = await t.pool.query<{ step: string; value: number }>(
      "select step, value from metrics where run_id = $1 and key = 'loss' order by step",
      [runId],
    );
    const now = rows.map((r) => ({ step: Number(r.step), value: r.value }));
    await expectExact(runId, "loss", now, randomCases(now, 8, 25));

    // Whatever the path, the rows are those a rebuild from the points gives.
    const kept = await rollupRows(runId);
    await rebuildFromPoints(runId);
    expect(await rollupRows(runId)).toEqual(kept);

    await t.pool.query("delete from metrics where run_id = $1 and key = 'other'", [runId]);
    expect((await rollupRows(runId)).filter((r) => r.key === "other")).toEqual([]);
    await t.pool.query("delete from runs where id = $1", [runId]);
    expect(await rollupRows(runId)).toEqual([]);
    const { rows: left } = await t.pool.query("select count(*)::int as n from metrics where run_id = $1", [
      runId,
    ]);
    expect(left[0].n).toBe(0);
    // The writer's points name an existing run, as a foreign key would insist (drizzle/0004's triggers).
    const gone = inTransaction((c) =>
      writeMetricPoints(c, runId, asMetricPoints("loss", [{ step: 1, value: 1 }])),
    );
    await expect(gone).rejects.toMatchObject({ code: "23503" });
  });

  it("writeMetricPoints writes the rows the SQL rebuild would: ties, gaps, NaN and ±Infinity", async () => {
    const runId = await newRun("js-vs-sql");
    const random = randomness(41);
    const odd = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0];
    const points = Array.from({ length: 5_000 }, (_, i) => ({
      step: i * 3 + (i % 5 === 0 ? 1 : 0),
      value: random() < 0.02 ? odd[Math.floor(random() * odd.length)]! : Math.round(random() * 4) / 2,
    }));
    await writeSeries(runId, "odd", points, 3);
    await writeSeries(
      runId,
      "odd",
      points.slice(1000, 1500).map((p) => ({ ...p, value: -p.value })),
      7,
    );
    const written = await rollupRows(runId);
    expect(written.length).toBeGreaterThan(points.length / 16);
    await rebuildFromPoints(runId);
    expect(await rollupRows(runId)).toEqual(written);
  });

  it("ingest() writes through writeMetricPoints: its rollups are those a rebuild from the points gives", async () => {
    const random = randomness(43);
    const payload = (from: number, sign: number) => ({
      run: { name: "ingested-rollups" },
      metrics: Array.from({ length: 700 }, (_, i) => ({
        step: from + i * 2,
        values: { "eval/a": sign * Math.round(random() * 8), "eval/b": sign * random() },
      })),
    });
    const first = await ingest(t, payload(0, 1), { trusted: true });
    await ingest(t, payload(1000, 1), { trusted: true });
    // A payload sent again with other values (a resent or corrected range) replaces those points.
    await ingest(t, payload(500, -1), { trusted: true });
    const { rows } = await t.pool.query("select count(*)::int as n from metrics where run_id = $1", [
      first.runId,
    ]);
    expect(rows[0].n).toBe(
      2 *
        new Set(
          [...payload(0, 1).metrics, ...payload(1000, 1).metrics, ...payload(500, 1).metrics].map(
            (m) => m.step,
          ),
        ).size,
    );
    const written = await rollupRows(first.runId);
    expect(written.length).toBeGreaterThan(2 * (2400 / 32));
    await rebuildFromPoints(first.runId);
    expect(await rollupRows(first.runId)).toEqual(written);
  });

  it("when two writers of one series interleave (the second waits for the first's commit)", async () => {
    const runId = await newRun("concurrent");
    const all = makeSeries(4_000, 51, { gap: 0, firstStep: 0 });
    const a = all.filter((p) => p.step % 2 === 0);
    const b = all.filter((p) => p.step % 2 === 1);
    const first = await t.pool.connect();
    const second = await t.pool.connect();
    try {
      await first.query("begin");
      await writeMetricPoints(first, runId, asMetricPoints("loss", a));
      await second.query("begin");
      const waiting = writeMetricPoints(second, runId, asMetricPoints("loss", b));
      await new Promise((resolve) => setTimeout(resolve, 200));
      await first.query("commit");
      await waiting;
      await second.query("commit");
    } finally {
      first.release();
      second.release();
    }
    await expectExact(runId, "loss", all, randomCases(all, 12, 15));
    const kept = await rollupRows(runId);
    await rebuildFromPoints(runId);
    expect(await rollupRows(runId)).toEqual(kept);
  });
});

describe("pure helpers", () => {
  it("bucketOf cuts the range into equal slices", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((s) => bucketOf(s, 0, 9, 3))).toEqual([
      0, 0, 0, 0, 1, 1, 1, 2, 2, 2,
    ]);
    expect(bucketOf(100, 100, 100, 5)).toBe(0);
  });

  it("bucketBounds are the first steps of bucketOf's buckets", () => {
    const random = randomness(61);
    for (let i = 0; i < 200; i++) {
      const from = Math.floor(random() * 1000) - 100;
      const to = from + Math.floor(random() * 3000);
      const buckets = 1 + Math.floor(random() * 400);
      const bounds = bucketBounds(from, to, buckets);
      const misplaced: number[] = [];
      for (let s = from; s <= to; s++) {
        const b = bucketOf(s, from, to, buckets);
        if (!(bounds[b]! <= s && s < bounds[b + 1]!)) misplaced.push(s);
      }
      expect({ length: bounds.length, first: bounds[0], last: bounds.at(-1), misplaced }).toEqual({
        length: buckets + 1,
        first: from,
        last: to + 1,
        misplaced: [],
      });
    }
  });

  it("cutBlocks lists, per span, the blocks a bound falls strictly inside", () => {
    const cuts = cutBlocks([0, 31, 32, 33, 40, 600, 1024]);
    expect(cuts.map((c) => c.span)).toEqual([...ROLLUP_SPANS]);
    expect(cuts[0]).toEqual({
      span: 32,
      blocks: [0, 1, 18],
      firstBounds: [31, 33, 600],
      lastBounds: [31, 40, 600],
    });
    expect(cuts[1]).toEqual({ span: 512, blocks: [0, 1], firstBounds: [31, 600], lastBounds: [40, 600] });
  });

  it("prefixSuffix finds the running min and max from each end, the earliest on ties", () => {
    const plain = (values: number[], from: number, to: number, better: (a: number, b: number) => boolean) => {
      let best = from;
      for (let i = from; i <= to; i++) if (better(values[i]!, values[best]!)) best = i;
      return best + 1;
    };
    // PostgreSQL's order: NaN above everything.
    const below = (a: number, b: number) => a < b || (Number.isNaN(b) && !Number.isNaN(a));
    const above = (a: number, b: number) => below(b, a);
    const random = randomness(71);
    for (let round = 0; round < 300; round++) {
      const n = 1 + Math.floor(random() * 32);
      const values = Array.from({ length: n }, () =>
        random() < 0.05 ? Number.NaN : Math.floor(random() * 5),
      );
      const got = prefixSuffix(values);
      for (let i = 0; i < n; i++) {
        expect(got.prefixMin[i]).toBe(plain(values, 0, i, below));
        expect(got.prefixMax[i]).toBe(plain(values, 0, i, above));
        expect(got.suffixMin[i]).toBe(plain(values, i, n - 1, below));
        expect(got.suffixMax[i]).toBe(plain(values, i, n - 1, above));
      }
    }
  });
});

describe("seriesSince", () => {
  it("returns the points after a step, in order", async () => {
    const points = makeSeries(300, 3);
    const runId = await insertSeries("tail", points);
    const after = points[250]!.step;
    expect(await seriesSince(t.pool, runId, "tail", after)).toEqual(points.slice(251));
    expect(await seriesSince(t.pool, runId, "tail", after, 10)).toEqual(points.slice(251, 261));
    expect(await seriesSince(t.pool, runId, "tail", points.at(-1)!.step)).toEqual([]);
  });

  it("returns only what a live chart has not seen, as RunTelemetry-style writes land", async () => {
    const runId = await newRun("live");
    const points = makeSeries(3_000, 81, { firstStep: 0 });
    let seen = -1;
    const received: SeriesPoint[] = [];
    for (let start = 0; start < points.length; start += 700) {
      await inTransaction((c) =>
        writeMetricPoints(c, runId, asMetricPoints("loss", points.slice(start, start + 700))),
      );
      const fresh = await seriesSince(t.pool, runId, "loss", seen);
      expect(fresh).toEqual(points.slice(start, start + 700));
      received.push(...fresh);
      seen = received.at(-1)!.step;
    }
    expect(received).toEqual(points);
  });
});
