import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runs } from "../src/db/schema";
import { createTestDatabase, type TestDatabase } from "../src/db/testing";
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
});
