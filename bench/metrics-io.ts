/**
 * Metrics I/O on real PostgreSQL (the embedded server unless DATABASE_URL is set), in a scratch
 * database that is dropped afterwards:
 *   1. write throughput of metric points through RunTelemetry (batched `unnest` upserts), by batch size;
 *   2. the time to read one series of 1,000,000 points downsampled for a chart (min/max/last per bucket,
 *      in SQL: `downsampleSeries`), whole range and zoomed, and a live-tail read (`seriesSince`).
 *
 *   node --import ./packages/trainer/node_modules/tsx/dist/esm/index.mjs bench/metrics-io.ts [--points 1000000] [--json]
 *
 * Targets: ≥ 50,000 points/s written; < 100 ms for the downsampled read.
 */
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { runs } from "../packages/core/src/db/schema";
import { createTestDatabase } from "../packages/core/src/db/testing";
import { downsampleSeries, seriesSince } from "../packages/core/src/series";
import { RunTelemetry } from "../packages/core/src/telemetry";

const { values: args } = parseArgs({
  options: {
    points: { type: "string", default: "1000000" },
    buckets: { type: "string", default: "1500" },
    repeats: { type: "string", default: "15" },
    json: { type: "boolean", default: false },
  },
});
const POINTS = Number(args.points);
const BUCKETS = Number(args.buckets);
const REPEATS = Number(args.repeats);

if (!process.env.DATABASE_URL) process.env.RLHF_HOME ??= path.join(os.tmpdir(), "rlhf-bench-home");
process.env.RLHF_QUIET ??= "1";

const say = (line: string) => {
  if (!args.json) process.stdout.write(`${line}\n`);
};

/** A loss-like curve with noise and a few spikes, so min/max buckets have something to keep. */
function lossAt(step: number): number {
  const noise = Math.sin(step * 12.9898) * 43758.5453;
  const spike = step % 99_991 === 0 ? 3 : 0;
  return 4 * Math.exp(-step / 200_000) + 0.5 + 0.05 * (noise - Math.floor(noise)) + spike;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function timeIt(fn: () => Promise<unknown>, repeats: number): Promise<{ median: number; min: number }> {
  await fn(); // warm the cache and the plan
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return { median: median(times), min: Math.min(...times) };
}

async function main(): Promise<void> {
  const database = await createTestDatabase("rlhf_bench");
  try {
    // The scratch database is reached by URL either way; say which server it is on.
    const server = process.env.DATABASE_URL ? "DATABASE_URL" : "embedded";
    const version = (await database.pool.query("show server_version")).rows[0].server_version as string;
    say(
      `PostgreSQL ${version} (${server}), ${os.cpus().length} cores, ${POINTS.toLocaleString("en")} points`,
    );

    // 1. Writes: the telemetry path trainers use, one run per batch size.
    const writes: { batch: number; points: number; seconds: number; pointsPerSecond: number }[] = [];
    for (const batch of [1_000, 5_000, 20_000]) {
      const n = batch === 5_000 ? POINTS : Math.min(POINTS, 200_000);
      const [run] = await database.db
        .insert(runs)
        .values({ name: `write-${batch}`, kind: "pretrain", config: {} })
        .returning();
      const telemetry = new RunTelemetry(database.pool, run!.id, { flushIntervalMs: 0, maxBuffered: batch });
      const start = performance.now();
      for (let step = 0; step < n; step++) {
        telemetry.metric("loss", step, lossAt(step));
        // A trainer yields between steps; so does this producer, or no flush could start until the end.
        if (step % 1000 === 999) await yieldToEventLoop();
      }
      await telemetry.close();
      const seconds = (performance.now() - start) / 1000;
      writes.push({ batch, points: n, seconds, pointsPerSecond: n / seconds });
      say(
        `write  batch ${String(batch).padStart(6)}: ${n.toLocaleString("en")} points in ${seconds.toFixed(2)} s = ${Math.round(n / seconds).toLocaleString("en")} points/s`,
      );
    }
    // Multi-key steps, as a trainer logs them (10 keys a step).
    {
      const [run] = await database.db
        .insert(runs)
        .values({ name: "write-keys", kind: "ppo", config: {} })
        .returning();
      const telemetry = new RunTelemetry(database.pool, run!.id, { flushIntervalMs: 0, maxBuffered: 5_000 });
      const steps = Math.min(POINTS, 200_000) / 10;
      const start = performance.now();
      for (let step = 0; step < steps; step++) {
        for (let k = 0; k < 10; k++) telemetry.metric(`objective/key_${k}`, step, lossAt(step + k));
        if (step % 100 === 99) await yieldToEventLoop();
      }
      await telemetry.close();
      const seconds = (performance.now() - start) / 1000;
      writes.push({ batch: -10, points: steps * 10, seconds, pointsPerSecond: (steps * 10) / seconds });
      say(
        `write  10 keys/step, batch 5000: ${(steps * 10).toLocaleString("en")} points in ${seconds.toFixed(2)} s = ${Math.round((steps * 10) / seconds).toLocaleString("en")} points/s`,
      );
    }

    // 2. Reads of the 1,000,000-point series written with batch 5000.
    await database.pool.query("vacuum analyze metrics");
    const [series] = (await database.pool.query("select id from runs where name = 'write-5000'")).rows as {
      id: string;
    }[];
    const runId = series!.id;
    let kept = 0;
    const whole = await timeIt(async () => {
      kept = (await downsampleSeries(database.pool, runId, "loss", { buckets: BUCKETS })).length;
    }, REPEATS);
    say(
      `read   downsample ${POINTS.toLocaleString("en")} → ${kept} points (${BUCKETS} buckets): median ${whole.median.toFixed(1)} ms, best ${whole.min.toFixed(1)} ms`,
    );
    let zoomKept = 0;
    const zoom = await timeIt(async () => {
      zoomKept = (
        await downsampleSeries(database.pool, runId, "loss", {
          buckets: BUCKETS,
          fromStep: Math.floor(POINTS * 0.4),
          toStep: Math.floor(POINTS * 0.5),
        })
      ).length;
    }, REPEATS);
    say(
      `read   downsample zoomed to 10% of the range → ${zoomKept} points: median ${zoom.median.toFixed(1)} ms`,
    );
    const tail = await timeIt(() => seriesSince(database.pool, runId, "loss", POINTS - 1_000), REPEATS);
    say(`read   live tail (last 1,000 points): median ${tail.median.toFixed(1)} ms`);
    const plan = await database.pool.query(
      `explain (analyze, buffers, format text) select count(*) from metrics where run_id = $1 and key = 'loss'`,
      [runId],
    );
    const scan = (plan.rows as { "QUERY PLAN": string }[])
      .map((r) => r["QUERY PLAN"])
      .find((l) => /Scan/.test(l));

    if (args.json) {
      process.stdout.write(
        `${JSON.stringify({ postgres: version, server, cores: os.cpus().length, writes, read: { points: POINTS, buckets: BUCKETS, kept, wholeMs: whole, zoomMs: zoom, tailMs: tail }, scan: scan?.trim() })}\n`,
      );
    } else {
      say(`(a plain count over the series uses: ${scan?.trim()})`);
      const best = Math.max(...writes.map((w) => w.pointsPerSecond));
      say(
        `targets: ≥ 50,000 points/s written (${best >= 50_000 ? "met" : "NOT met"}: ${Math.round(best).toLocaleString("en")}); < 100 ms downsampled read (${whole.median < 100 ? "met" : "NOT met"}: ${whole.median.toFixed(1)} ms)`,
      );
    }
  } finally {
    await database.drop();
  }
}

// The repository root is not an ES module package, so no top-level await here.
main().catch((error: unknown) => {
  process.stderr.write(
    `bench/metrics-io: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
