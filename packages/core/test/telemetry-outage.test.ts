/**
 * RunTelemetry through a real outage: a private PostgreSQL server (never the shared one) stopped while
 * points, samples, log lines and a checkpoint record are written, then started again.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guardPool, openDatabase } from "../src/db/open";
import { isUnreachable } from "../src/db/outage";
import { runs } from "../src/db/schema";
import { RunTelemetry } from "../src/telemetry";
import {
  createDatabaseOn,
  type PrivatePostgres,
  postgresBinaries,
  startPrivatePostgres,
} from "../src/testing/postgres-server";

const missing = postgresBinaries("system");
let server: PrivatePostgres;
let url: string;

beforeAll(async () => {
  if (typeof missing === "string") return;
  server = await startPrivatePostgres("system");
  const created = await createDatabaseOn(server, "telemetry");
  url = created.url;
  await created.database.close();
});
afterAll(() => server?.destroy());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(typeof missing === "string")(
  `RunTelemetry through a database outage${typeof missing === "string" ? ` (skipped: ${missing})` : ""}`,
  () => {
    it("keeps every point, sample, log line and checkpoint through a stop and start, and writes each once", async () => {
      const database = await openDatabase({ url, migrate: false, max: 4 });
      const [run] = await database.db.insert(runs).values({ name: "o", kind: "ppo", config: {} }).returning();
      const events: string[] = [];
      const telemetry = new RunTelemetry(database.pool, run!.id, {
        flushIntervalMs: 100,
        onOutage: (e) => events.push(e.state),
      });
      // A trainer's loop: a step every 10 ms, a sample and a line every 10 steps, a checkpoint at 150.
      let step = 0;
      const writeSteps = async (until: number) => {
        for (; step < until; step++) {
          telemetry.metrics(step, { loss: 1 / (step + 1), lr: 1e-3 });
          if (step % 10 === 0) {
            telemetry.sample({ step, prompt: `p${step}`, response: "r" });
            telemetry.log(`step ${step}`);
          }
          if (step === 150) telemetry.checkpoint({ step, path: "/ckpt/150", metrics: {}, isFinal: false });
          await sleep(10);
        }
      };
      await writeSteps(100);
      server.stop();
      await writeSteps(200); // ~1 s with the server down
      expect(telemetry.outageSeconds).toBeGreaterThan(0);
      expect(telemetry.buffered.metricPoints).toBeGreaterThanOrEqual(200);
      server.start();
      await writeSteps(300);
      await telemetry.close();
      expect(events).toEqual(["unreachable", "back"]);
      expect(telemetry.buffered).toEqual({ metricPoints: 0, samples: 0, logLines: 0, checkpoints: 0 });

      const count = async (sql: string) =>
        (await database.pool.query(sql, [run!.id])).rows.map((r) => Object.values(r).map(Number));
      expect(
        await count(
          "select count(*) as n, count(distinct step) as steps, min(step), max(step) from metrics where run_id = $1 and key = 'loss'",
        ),
      ).toEqual([[300, 300, 0, 299]]);
      expect(
        await count("select count(*) as n, count(distinct step) as steps from samples where run_id = $1"),
      ).toEqual([[30, 30]]);
      expect(
        await count("select count(*) as n, count(distinct message) as lines from run_logs where run_id = $1"),
      ).toEqual([[30, 30]]);
      expect(await count("select step from checkpoints where run_id = $1")).toEqual([[150]]);
      await database.close();
    });

    it("says when it is full, refuses past twice the bound and logs what it refused", async () => {
      const database = await openDatabase({ url, migrate: false, max: 2 });
      const [run] = await database.db
        .insert(runs)
        .values({ name: "full", kind: "ppo", config: {} })
        .returning();
      const telemetry = new RunTelemetry(database.pool, run!.id, {
        flushIntervalMs: 0,
        bounds: { metricPoints: 50, samples: 5, logLines: 5 },
      });
      server.stop();
      try {
        for (let step = 0; step < 49; step++) telemetry.metric("loss", step, step);
        expect(telemetry.full).toBe(false);
        telemetry.metric("loss", 49, 49);
        expect(telemetry.full).toBe(true);
        for (let step = 50; step < 130; step++) telemetry.metric("loss", step, step);
        for (let i = 0; i < 12; i++) telemetry.sample({ step: i, prompt: "p", response: "r" });
        expect(telemetry.buffered).toMatchObject({ metricPoints: 100, samples: 10 });
        const failed = await telemetry.flush().catch((error: unknown) => error);
        expect(isUnreachable(failed)).toBe(true);
        expect(telemetry.buffered.metricPoints).toBe(100); // a failed write keeps everything
      } finally {
        server.start();
      }
      await telemetry.close();
      await telemetry.flush(); // the warning about what was refused, logged after the write that ended the outage
      const { rows } = await database.pool.query("select message from run_logs where run_id = $1", [run!.id]);
      expect(rows.map((r) => r.message)).toEqual([
        "telemetry buffers were full during a database outage: 30 metric points, 2 samples and 0 log lines were not kept",
      ]);
      const points = await database.pool.query(
        "select max(step)::int as last from metrics where run_id = $1",
        [run!.id],
      );
      expect(points.rows[0].last).toBe(99);
      await database.close();
    });

    it("a transaction's client losing its server does not crash the process (no unhandled 'error')", async () => {
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      guardPool(pool);
      const client = await pool.connect();
      await client.query("begin");
      let crashed = false;
      const onCrash = () => {
        crashed = true;
      };
      process.on("uncaughtException", onCrash);
      server.stop();
      const error = await client.query("select 1").catch((e: unknown) => e);
      expect(isUnreachable(error)).toBe(true);
      client.release(error as Error);
      await sleep(300);
      process.removeListener("uncaughtException", onCrash);
      server.start();
      expect(crashed).toBe(false);
      expect((await pool.query("select 1 as one")).rows[0].one).toBe(1);
      await pool.end();
    });
  },
);
