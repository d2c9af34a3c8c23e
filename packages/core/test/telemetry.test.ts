import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runs } from "../src/db/schema";
import { createTestDatabase, type TestDatabase } from "../src/db/testing";
import { downsampleSeries } from "../src/series";
import { RunTelemetry } from "../src/telemetry";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => t?.drop());

describe("RunTelemetry", () => {
  it("writes metrics, samples and logs in batches; a rewritten step replaces its point", async () => {
    const [run] = await t.db.insert(runs).values({ name: "r", kind: "pretrain", config: {} }).returning();
    const telemetry = new RunTelemetry(t.pool, run!.id, { flushIntervalMs: 0 });
    for (let step = 0; step < 1000; step++) telemetry.metrics(step, { loss: 10 - step / 100, lr: 1e-3 });
    telemetry.metric("loss", 999, 0.5); // same point twice in one batch: last wins
    telemetry.metric("loss", 1000, Number.NaN); // never charted
    telemetry.sample({ step: 10, prompt: "p", response: "r", reward: 1.5, extra: { kl: 0.1 } });
    telemetry.log("hello");
    telemetry.sample({ step: 11, prompt: "nul \u0000 byte", response: "\u0000" }); // PostgreSQL text cannot hold NUL
    await telemetry.flush();
    // A resumed run writes step 999 again.
    telemetry.metric("loss", 999, 0.25);
    await telemetry.close();

    const { rows } = await t.pool.query(
      "select key, count(*)::int as n, max(step)::int as last from metrics where run_id = $1 group by key order by key",
      [run!.id],
    );
    expect(rows).toEqual([
      { key: "loss", n: 1000, last: 999 },
      { key: "lr", n: 1000, last: 999 },
    ]);
    const last = await t.pool.query(
      "select value from metrics where run_id = $1 and key = 'loss' and step = 999",
      [run!.id],
    );
    expect(last.rows[0].value).toBe(0.25);
    const samples = await t.pool.query("select prompt, reward, extra from samples where run_id = $1", [
      run!.id,
    ]);
    expect(samples.rows).toEqual([
      { prompt: "p", reward: 1.5, extra: { kl: 0.1 } },
      { prompt: "nul \uFFFD byte", reward: null, extra: {} },
    ]);
    const logs = await t.pool.query("select message from run_logs where run_id = $1", [run!.id]);
    expect(logs.rows).toEqual([{ message: "hello" }]);
  });

  it("keeps the chart rollups exact across flushes of many keys and a resumed run's rewrites", async () => {
    const [run] = await t.db.insert(runs).values({ name: "resume", kind: "ppo", config: {} }).returning();
    const valueAt = (attempt: number, key: number, step: number) =>
      Math.sin(step * 0.37 + key) + (step % 997 === attempt ? 50 * (attempt + 1) : 0);
    // First attempt: steps 0..2999 of 5 keys, flushed every 777 points; then a crash.
    const first = new RunTelemetry(t.pool, run!.id, { flushIntervalMs: 0, maxBuffered: 777 });
    for (let step = 0; step < 3000; step++)
      for (let k = 0; k < 5; k++) first.metric(`objective/k${k}`, step, valueAt(0, k, step));
    await first.close();
    // Second attempt resumes from the checkpoint at step 2000 and runs to 4999 with other values.
    const second = new RunTelemetry(t.pool, run!.id, { flushIntervalMs: 0, maxBuffered: 1234 });
    for (let step = 2000; step < 5000; step++)
      for (let k = 0; k < 5; k++) second.metric(`objective/k${k}`, step, valueAt(1, k, step));
    await second.close();

    for (let k = 0; k < 5; k++) {
      const points = Array.from({ length: 5000 }, (_, step) => ({
        step,
        value: valueAt(step < 2000 ? 0 : 1, k, step),
      }));
      for (const buckets of [1, 7, 300, 1500]) {
        const got = await downsampleSeries(t.pool, run!.id, `objective/k${k}`, { buckets });
        const bucket = (s: number) => Math.min(Math.floor((s * buckets) / 5000), buckets - 1);
        // Per bucket: min and max (earliest on ties) and last, as in test/series.test.ts.
        const kept = new Map<number, typeof points>();
        for (const p of points) kept.set(bucket(p.step), [...(kept.get(bucket(p.step)) ?? []), p]);
        const expected = new Map<number, { step: number; value: number }>();
        for (const inBucket of kept.values()) {
          const min = inBucket.reduce((a, b) => (b.value < a.value ? b : a));
          const max = inBucket.reduce((a, b) => (b.value > a.value ? b : a));
          for (const p of [min, max, inBucket.at(-1)!]) expected.set(p.step, p);
        }
        expect(got, `k${k} / ${buckets}`).toEqual([...expected.values()].sort((a, b) => a.step - b.step));
      }
    }
  });
});
