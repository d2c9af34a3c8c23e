/**
 * Metrics I/O on real PostgreSQL (the embedded server unless DATABASE_URL is set), in a scratch
 * database that is dropped afterwards:
 *   1. write throughput of metric points through RunTelemetry (`writeMetricPoints`: the points and their
 *      chart rollups in one transaction per flush), by batch size, and for 10 keys a step;
 *   2. the time to read one series of 1,000,000 points downsampled for a chart (min/max/last per bucket
 *      from the rollups: `downsampleSeries`) — whole range at 1,500 and 2,000 buckets, zoomed to 10%, and
 *      in the dashboard's aligned power-of-two buckets — checked equal to a plain scan of the points; and
 *      a live-tail read (`seriesSince`).
 *
 *   pnpm bench:metrics [--points 1000000] [--buckets 1500] [--json]
 *
 * Without DATABASE_URL it uses the embedded server of RLHF_HOME (default: <tmpdir>/rlhf-bench-home).
 * Targets: ≥ 50,000 points/s written; < 100 ms for the downsampled read. Other processes on the machine
 * skew both: the load average is printed with the figures.
 */
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { ingest } from "@rlhf/core/ingest";
import { runs } from "@rlhf/core/schema";
import { type DownsampleOptions, downsampleSeries, type SeriesPoint, seriesSince } from "@rlhf/core/series";
import { RunTelemetry } from "@rlhf/core/telemetry";
import { createTestDatabase } from "@rlhf/core/testing";

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

/**
 * A trainer yields between steps, and stops when the writer falls behind by its bounds (a telemetry
 * buffer past twice its bound refuses points). This producer yields likewise and waits while more than
 * two batches are buffered, so every point is written and each write is about `batch` points.
 */
async function keepUp(telemetry: RunTelemetry, batch: number): Promise<void> {
  await yieldToEventLoop();
  while (telemetry.buffered.metricPoints >= 2 * batch) await new Promise((resolve) => setTimeout(resolve, 1));
}

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

/** What downsampleSeries must return, by the plain scan of every point it replaced. */
async function plainScan(
  pool: Parameters<typeof downsampleSeries>[0],
  runId: string,
  key: string,
  { buckets, fromStep = 0, toStep = POINTS - 1 }: DownsampleOptions,
): Promise<SeriesPoint[]> {
  const { rows } = await pool.query<{ step: string; value: number }>(
    `with slices as (
       select min(array[value, step]) as lo, max(array[value, -step]) as hi, max(array[step, value]) as last
       from metrics where run_id = $1 and key = $2 and step between $3 and $4
       group by ((step - $3) * $5) / ($4 - $3 + 1)
     )
     select distinct step, value from (
       select lo[2]::bigint as step, lo[1] as value from slices
       union all select (-hi[2])::bigint, hi[1] from slices
       union all select last[1]::bigint, last[2] from slices
     ) kept order by step`,
    [runId, key, fromStep, toStep, buckets],
  );
  return rows.map((r) => ({ step: Number(r.step), value: r.value }));
}

type Database = Awaited<ReturnType<typeof createTestDatabase>>;
type Write = { batch: number; points: number; seconds: number; pointsPerSecond: number };

/**
 * A new run written through RunTelemetry as a trainer writes: `steps` steps of `log(telemetry, step)`,
 * yielding every `yieldEvery` steps; the points written per second.
 */
async function writeRun(
  database: Database,
  run: { name: string; kind: "pretrain" | "ppo" },
  o: {
    steps: number;
    batch: number;
    yieldEvery: number;
    log: (telemetry: RunTelemetry, step: number) => void;
  },
): Promise<{ seconds: number }> {
  const [row] = await database.db
    .insert(runs)
    .values({ ...run, config: {} })
    .returning();
  const telemetry = new RunTelemetry(database.pool, row!.id, { flushIntervalMs: 0, maxBuffered: o.batch });
  const start = performance.now();
  for (let step = 0; step < o.steps; step++) {
    o.log(telemetry, step);
    // A trainer yields between steps; so does this producer, or no flush could start until the end.
    if (step % o.yieldEvery === o.yieldEvery - 1) await keepUp(telemetry, o.batch);
  }
  await telemetry.close();
  return { seconds: (performance.now() - start) / 1000 };
}

const loss = (telemetry: RunTelemetry, step: number) => telemetry.metric("loss", step, lossAt(step));

/** 1. Writes: the telemetry path trainers use, one run per batch size, then 10 keys a step. */
async function measureWrites(database: Database): Promise<Write[]> {
  const writes: Write[] = [];
  for (const batch of [1_000, 5_000, 20_000]) {
    const n = batch === 5_000 ? POINTS : Math.min(POINTS, 200_000);
    const { seconds } = await writeRun(
      database,
      { name: `write-${batch}`, kind: "pretrain" },
      { steps: n, batch, yieldEvery: 1000, log: loss },
    );
    writes.push({ batch, points: n, seconds, pointsPerSecond: n / seconds });
    say(
      `write  batch ${String(batch).padStart(6)}: ${n.toLocaleString("en")} points in ${seconds.toFixed(2)} s = ${Math.round(n / seconds).toLocaleString("en")} points/s`,
    );
  }
  // Multi-key steps, as a trainer logs them (10 keys a step).
  const steps = Math.min(POINTS, 200_000) / 10;
  const { seconds } = await writeRun(
    database,
    { name: "write-keys", kind: "ppo" },
    {
      steps,
      batch: 5_000,
      yieldEvery: 100,
      log: (telemetry, step) => {
        for (let k = 0; k < 10; k++) telemetry.metric(`objective/key_${k}`, step, lossAt(step + k));
      },
    },
  );
  writes.push({ batch: -10, points: steps * 10, seconds, pointsPerSecond: (steps * 10) / seconds });
  say(
    `write  10 keys/step, batch 5000: ${(steps * 10).toLocaleString("en")} points in ${seconds.toFixed(2)} s = ${Math.round((steps * 10) / seconds).toLocaleString("en")} points/s`,
  );
  return writes;
}

/**
 * Ingest (`POST /api/ingest`, `rlhf log`): payloads of 1,000 steps × 5 keys through `ingest()`, which writes
 * through the same `writeMetricPoints` as the trainers. Points per second.
 */
async function measureIngest(database: Database): Promise<number> {
  const steps = Math.min(POINTS, 200_000) / 5;
  const start = performance.now();
  for (let from = 0; from < steps; from += 1_000) {
    const metrics = Array.from({ length: 1_000 }, (_, i) => ({
      step: from + i,
      values: Object.fromEntries(
        Array.from({ length: 5 }, (_, k) => [`eval/key_${k}`, lossAt(from + i + k)]),
      ),
    }));
    await ingest(database, { run: { name: "ingest-bench" }, metrics }, { trusted: true });
  }
  const pointsPerSecond = (steps * 5) / ((performance.now() - start) / 1000);
  say(
    `write  ingest(), 1,000 steps × 5 keys a payload: ${(steps * 5).toLocaleString("en")} points in ${((steps * 5) / pointsPerSecond).toFixed(2)} s = ${Math.round(pointsPerSecond).toLocaleString("en")} points/s`,
  );
  return pointsPerSecond;
}

/**
 * What checking metrics.run_id costs: the statement-level triggers of drizzle/0004 (now), the foreign key
 * they replaced (re-added NOT VALID: checked for new rows only), and no check at all, alternated so that
 * the machine's other work weighs on all three alike.
 */
async function measureRunCheck(database: Database) {
  const runCheck = { statement: [] as number[], foreignKey: [] as number[], none: [] as number[] };
  const n = Math.min(POINTS, 100_000);
  const write = async (name: string) => {
    const { seconds } = await writeRun(
      database,
      { name, kind: "pretrain" },
      { steps: n, batch: 5_000, yieldEvery: 1000, log: loss },
    );
    return n / seconds;
  };
  const triggers = (action: "enable" | "disable") =>
    database.pool.query(
      `alter table metrics ${action} trigger metrics_runs_exist_insert, ${action} trigger metrics_runs_exist_update`,
    );
  for (let round = 0; round < 3; round++) {
    runCheck.statement.push(await write(`check-statement-${round}`));
    await triggers("disable");
    await database.pool.query(
      `alter table metrics add constraint metrics_run_id_fk foreign key (run_id)
       references runs (id) on delete cascade not valid`,
    );
    runCheck.foreignKey.push(await write(`check-fk-${round}`));
    await database.pool.query("alter table metrics drop constraint metrics_run_id_fk");
    runCheck.none.push(await write(`check-none-${round}`));
    await triggers("enable");
  }
  const medians = [runCheck.statement, runCheck.foreignKey, runCheck.none].map(median);
  say(
    `write  run check: statement triggers / foreign key / none, batch 5000, ${n.toLocaleString("en")} points × 3 each: ` +
      `${medians.map((x) => Math.round(x).toLocaleString("en")).join(" / ")} points/s (medians)`,
  );
  return runCheck;
}

/** Every point produced is stored (none refused by the telemetry's bounds). */
async function checkStored(database: Database, writes: Write[]): Promise<void> {
  const { rows: stored } = await database.pool.query<{ name: string; n: number }>(
    `select r.name, count(m.*)::int as n from runs r left join metrics m on m.run_id = r.id
     where r.name in ('write-1000', 'write-5000', 'write-20000', 'write-keys') group by r.name`,
  );
  for (const w of writes) {
    const name = w.batch === -10 ? "write-keys" : `write-${w.batch}`;
    const n = stored.find((r) => r.name === name)?.n ?? 0;
    if (n !== w.points) throw new Error(`run ${name}: ${w.points} points written, ${n} stored`);
  }
}

/** 2. Reads of the 1,000,000-point series written with batch 5000, each checked against a plain scan. */
async function measureReads(database: Database) {
  await database.pool.query("vacuum analyze metrics");
  await database.pool.query("vacuum analyze metric_rollups");
  const [series] = (await database.pool.query("select id from runs where name = 'write-5000'")).rows as {
    id: string;
  }[];
  const runId = series!.id;
  const sizes = (
    await database.pool.query(
      `select pg_total_relation_size('metrics') as metrics, pg_total_relation_size('metric_rollups') as rollups`,
    )
  ).rows[0] as { metrics: string; rollups: string };
  const zoom = { fromStep: Math.floor(POINTS * 0.4), toStep: Math.floor(POINTS * 0.5) };
  // The dashboard's buckets: a power-of-two width aligned to step 0 (apps/dashboard/src/lib/buckets.ts).
  let width = 1;
  while (Math.floor((POINTS - 1) / width) + 1 > BUCKETS) width *= 2;
  const aligned = { buckets: Math.floor((POINTS - 1) / width) + 1, fromStep: 0 };
  const readCases: { name: string; label: string; options: DownsampleOptions }[] = [
    {
      name: "whole",
      label: `${POINTS.toLocaleString("en")} points, ${BUCKETS} buckets`,
      options: { buckets: BUCKETS },
    },
    {
      name: "whole2000",
      label: `${POINTS.toLocaleString("en")} points, 2000 buckets`,
      options: { buckets: 2000 },
    },
    {
      name: "zoom",
      label: `zoomed to 10% of the range, ${BUCKETS} buckets`,
      options: { buckets: BUCKETS, ...zoom },
    },
    {
      name: "aligned",
      label: `aligned ${width}-step buckets (the dashboard's)`,
      options: { ...aligned, toStep: aligned.buckets * width - 1 },
    },
  ];
  const reads: Record<string, { kept: number; exact: boolean; median: number; min: number }> = {};
  for (const { name, label, options } of readCases) {
    let got: SeriesPoint[] = [];
    const time = await timeIt(async () => {
      got = await downsampleSeries(database.pool, runId, "loss", options);
    }, REPEATS);
    const exact =
      JSON.stringify(got) === JSON.stringify(await plainScan(database.pool, runId, "loss", options));
    reads[name] = { kept: got.length, exact, ...time };
    say(
      `read   downsample ${label} → ${got.length} points: median ${time.median.toFixed(1)} ms, best ${time.min.toFixed(1)} ms${exact ? " (equal to a plain scan)" : " — DIFFERS from a plain scan"}`,
    );
  }
  const tail = await timeIt(() => seriesSince(database.pool, runId, "loss", POINTS - 1_000), REPEATS);
  say(`read   live tail (last 1,000 points): median ${tail.median.toFixed(1)} ms`);
  const mb = (bytes: string) => `${(Number(bytes) / 2 ** 20).toFixed(0)} MB`;
  say(`size   metrics ${mb(sizes.metrics)}, metric_rollups ${mb(sizes.rollups)}`);
  return { reads, tail, sizes };
}

async function main(): Promise<void> {
  const loadBefore = os.loadavg();
  const database = await createTestDatabase("rlhf_bench");
  try {
    // The scratch database is reached by URL either way; say which server it is on.
    const server = process.env.DATABASE_URL ? "DATABASE_URL" : "embedded";
    const version = (await database.pool.query("show server_version")).rows[0].server_version as string;
    say(
      `PostgreSQL ${version} (${server}), ${os.cpus().length} cores, ${POINTS.toLocaleString("en")} points`,
    );
    const writes = await measureWrites(database);
    const ingestPointsPerSecond = await measureIngest(database);
    const runCheck = await measureRunCheck(database);
    await checkStored(database, writes);
    const { reads, tail, sizes } = await measureReads(database);
    const load = [loadBefore, os.loadavg()].map((l) => l.map((x) => x.toFixed(2)).join(" "));
    say(`load average (1, 5, 15 min) ${load[0]} before, ${load[1]} after`);

    if (args.json) {
      process.stdout.write(
        `${JSON.stringify({ postgres: version, server, cores: os.cpus().length, loadBefore, loadAfter: os.loadavg(), writes, ingestPointsPerSecond, runCheck, read: { points: POINTS, buckets: BUCKETS, ...reads, tailMs: tail }, bytes: sizes })}\n`,
      );
    } else {
      const best = Math.max(...writes.map((w) => w.pointsPerSecond));
      const whole = reads.whole!;
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
