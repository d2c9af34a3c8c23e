/**
 * The dashboard's time to first chart for a big run: 20 metric keys × 100,000 points each (2,000,000
 * rows, written through RunTelemetry as trainers write them), served by the production build (`next
 * start`) from a scratch database on real PostgreSQL (the embedded server unless DATABASE_URL is set),
 * dropped afterwards.
 *
 *   1. HTTP, as the run page asks: `metrics.keys`, then the 20 charts' `metrics.series` in one batched
 *      request at 400 buckets each (a chart's width in pixels): time to the first chart's data, to all of
 *      them, and the bytes of the answers (JSON as sent: `next start` does not compress a streamed
 *      tRPC response; and what gzip would make of them);
 *   2. in Chromium: from navigation to the first chart drawn with its points, and to all 20;
 *   3. for scale, the bytes of the same 20 series sent whole.
 *
 *   pnpm --filter @rlhf/dashboard build
 *   pnpm bench:dashboard [--keys 20] [--points 100000] [--json]
 */
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { runs } from "@rlhf/core/schema";
import { RunTelemetry } from "@rlhf/core/telemetry";
import { createTestDatabase } from "@rlhf/core/testing";
import { assertProductionBuild, CHROMIUM_PATH, launchChromium, startNextApp } from "@rlhf/core/testing/apps";

const { values: args } = parseArgs({
  options: {
    keys: { type: "string", default: "20" },
    points: { type: "string", default: "100000" },
    buckets: { type: "string", default: "400" },
    repeats: { type: "string", default: "5" },
    json: { type: "boolean", default: false },
  },
});
const KEYS = Number(args.keys);
const POINTS = Number(args.points);
const BUCKETS = Number(args.buckets);
const REPEATS = Number(args.repeats);

if (!process.env.DATABASE_URL) process.env.RLHF_HOME ??= path.join(os.tmpdir(), "rlhf-bench-home");
process.env.RLHF_QUIET ??= "1";

// tsx runs this file as CommonJS (the repository root is not "type": "module").
const ROOT = path.resolve(__dirname, "..");
const APP = path.join(ROOT, "apps/dashboard");

const say = (line: string) => {
  if (!args.json) process.stdout.write(`${line}\n`);
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

/** A training-like curve: decay, noise and a spike now and then (which min/max buckets must keep). */
function valueAt(key: number, step: number): number {
  const noise = Math.sin(step * 12.9898 + key * 78.233) * 43_758.5453;
  const spike = (step + key * 7919) % 49_999 === 0 ? 5 : 0;
  return (1 + key / 10) * Math.exp(-step / 40_000) + 0.2 * (noise - Math.floor(noise)) + spike;
}

/** tRPC's batched POST, as the browser's httpBatchStreamLink sends it (queries as POST). */
async function trpcBatch(url: string, procedure: string, inputs: unknown[], stream: boolean) {
  const started = performance.now();
  const response = await fetch(`${url}/api/trpc/${inputs.map(() => procedure).join(",")}?batch=1`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(stream ? { "trpc-accept": "application/jsonl" } : {}),
      "accept-encoding": "identity",
    },
    body: JSON.stringify(Object.fromEntries(inputs.map((input, i) => [i, { json: input }]))),
  });
  if (!response.ok) throw new Error(`${procedure}: HTTP ${response.status} ${await response.text()}`);
  const reader = response.body!.getReader();
  const chunks: Uint8Array[] = [];
  let firstChartMs: number | undefined;
  let text = "";
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    text += decoder.decode(value, { stream: true });
    // In the stream, each procedure's result is a line naming its index: the first one is a chart's data.
    if (firstChartMs === undefined && text.includes('"bucketWidth"'))
      firstChartMs = performance.now() - started;
  }
  const body = Buffer.concat(chunks);
  return { ms: performance.now() - started, firstChartMs: firstChartMs ?? Number.NaN, body };
}

type Database = Awaited<ReturnType<typeof createTestDatabase>>;

/** The run: KEYS × POINTS, written the way trainers write (RunTelemetry: batched upserts that keep the chart rollups exact). */
async function writeBigRun(database: Database): Promise<{ runId: string; keys: string[] }> {
  const [run] = await database.db
    .insert(runs)
    .values({
      name: "big",
      kind: "pretrain",
      status: "succeeded",
      config: {},
      step: POINTS,
      totalSteps: POINTS,
    })
    .returning();
  const keys = Array.from(
    { length: KEYS },
    (_, k) => `${["loss", "eval", "perf", "objective"][k % 4]}/key_${k}`,
  );
  const writeStart = performance.now();
  const telemetry = new RunTelemetry(database.pool, run!.id, { flushIntervalMs: 0, maxBuffered: 20_000 });
  for (let step = 0; step < POINTS; step++) {
    for (const [k, key] of keys.entries()) telemetry.metric(key, step, valueAt(k, step));
    // Let the flushes run as the buffer fills, as between a trainer's steps.
    if (step % 1000 === 999) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  await telemetry.close();
  await database.pool.query("vacuum analyze metrics");
  say(
    `wrote ${(KEYS * POINTS).toLocaleString("en")} points (${KEYS} keys × ${POINTS.toLocaleString("en")}) in ${((performance.now() - writeStart) / 1000).toFixed(1)} s`,
  );
  return { runId: run!.id, keys };
}

/** 1. HTTP: keys, then every chart's series in one streamed batch; and one chart alone. */
async function measureHttp(url: string, runId: string, keys: string[]) {
  const seriesInputs = keys.map((key) => ({ runIds: [runId], key, buckets: BUCKETS }));
  await trpcBatch(url, "metrics.keys", [{ runIds: [runId] }], false); // warm the server's routes and pool
  await trpcBatch(url, "metrics.series", seriesInputs, true);
  const rounds: {
    keysMs: number;
    firstChartMs: number;
    allMs: number;
    bytes: number;
    gzip: number;
    points: number;
  }[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const keysCall = await trpcBatch(url, "metrics.keys", [{ runIds: [runId] }], false);
    const series = await trpcBatch(url, "metrics.series", seriesInputs, true);
    const points = (series.body.toString().match(/"steps":\[[^\]]*\]/g) ?? []).reduce(
      (n, m) => n + (m.length > 10 ? m.split(",").length : 0),
      0,
    );
    rounds.push({
      keysMs: keysCall.ms,
      firstChartMs: keysCall.ms + series.firstChartMs,
      allMs: keysCall.ms + series.ms,
      bytes: keysCall.body.length + series.body.length,
      gzip: gzipSync(keysCall.body).length + gzipSync(series.body).length,
      points,
    });
  }
  const alone: number[] = [];
  for (let i = 0; i < REPEATS; i++)
    alone.push((await trpcBatch(url, "metrics.series", [seriesInputs[0]], false)).ms);
  const http = {
    oneChartAloneMs: median(alone),
    keysMs: median(rounds.map((r) => r.keysMs)),
    firstChartMs: median(rounds.map((r) => r.firstChartMs)),
    allChartsMs: median(rounds.map((r) => r.allMs)),
    bytes: rounds[0]!.bytes,
    gzipBytes: rounds[0]!.gzip,
    points: rounds[0]!.points,
  };
  say(
    `http   one chart alone (${POINTS.toLocaleString("en")} points → ${BUCKETS} buckets): ${http.oneChartAloneMs.toFixed(0)} ms`,
  );
  say(
    `http   keys ${http.keysMs.toFixed(0)} ms; first chart's data ${http.firstChartMs.toFixed(0)} ms; all ${KEYS} charts ${http.allChartsMs.toFixed(0)} ms (median of ${REPEATS})`,
  );
  say(
    `http   payload ${kib(http.bytes)} (${kib(http.gzipBytes)} gzipped) for ${http.points.toLocaleString("en")} points drawn of ${(KEYS * POINTS).toLocaleString("en")} (${(http.points / KEYS).toFixed(0)} per chart at ${BUCKETS} buckets)`,
  );
  return http;
}

/** 2. Chromium: navigation to the first chart drawn, and to all of them (undefined without Chromium). */
async function measureBrowser(url: string, runId: string) {
  if (!existsSync(CHROMIUM_PATH)) {
    say(`chrome skipped: no Chromium at ${CHROMIUM_PATH}`);
    return undefined;
  }
  const instance = await launchChromium();
  const samples: { first: number; all: number; html: number; dom: number; seriesAsked: number }[] = [];
  const drawn = (n: number) =>
    [...document.querySelectorAll("[data-points]")].filter((e) => Number(e.getAttribute("data-points")) > 0)
      .length >= n;
  for (let i = 0; i < Math.min(REPEATS, 3); i++) {
    // Tall enough for every chart to be on screen (charts below the fold load as they come near it).
    const page = await instance.newPage({ viewport: { width: 1360, height: 4000 } });
    let seriesAsked = 0;
    page.on("request", (request) => {
      if (!seriesAsked && request.url().includes("metrics.series")) seriesAsked = Date.now() - start;
    });
    const start = Date.now();
    await page.goto(`${url}/runs/${runId}`, { waitUntil: "commit" });
    const html = Date.now() - start;
    await page.waitForLoadState("domcontentloaded");
    const dom = Date.now() - start;
    await page.waitForFunction(drawn, 1, { timeout: 60_000, polling: 10 });
    const first = Date.now() - start;
    await page.waitForFunction(drawn, KEYS, { timeout: 60_000, polling: 10 });
    const all = Date.now() - start;
    await page.waitForTimeout(300);
    samples.push({ first, all, html, dom, seriesAsked });
    await page.close();
  }
  await instance.close();
  const measured = {
    firstChartMs: median(samples.map((s) => s.first)),
    allChartsMs: median(samples.map((s) => s.all)),
    htmlMs: median(samples.map((s) => s.html)),
    domContentLoadedMs: median(samples.map((s) => s.dom)),
    seriesAskedMs: median(samples.map((s) => s.seriesAsked)),
  };
  say(
    `chrome first byte of the page ${measured.htmlMs} ms, DOM ready ${measured.domContentLoadedMs} ms, charts ask for their series at ${measured.seriesAskedMs} ms`,
  );
  say(
    `chrome navigation → first chart drawn ${measured.firstChartMs} ms, all ${KEYS} charts ${measured.allChartsMs} ms (median of ${samples.length})`,
  );
  return measured;
}

async function main(): Promise<void> {
  assertProductionBuild(APP);
  const database = await createTestDatabase("rlhf_bench_dashboard");
  const children: ChildProcess[] = [];
  try {
    const version = (await database.pool.query("show server_version")).rows[0].server_version as string;
    say(
      `PostgreSQL ${version} (${process.env.DATABASE_URL ? "DATABASE_URL" : "embedded"}), ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(2)}`,
    );
    const { runId, keys } = await writeBigRun(database);
    const server = await startNextApp({ appDir: APP, env: { DATABASE_URL: database.url }, output: "stderr" });
    children.push(server.server);
    const http = await measureHttp(server.baseUrl, runId, keys);

    // 3. For scale: the same series sent whole (steps and values as JSON).
    const whole = await database.pool.query<{ bytes: string }>(
      `select sum(length(step::text) + length(value::text) + 2)::bigint as bytes from metrics where run_id = $1`,
      [runId],
    );
    const wholeBytes = Number(whole.rows[0]!.bytes);
    say(`whole  the ${KEYS} series sent whole would be ≥ ${(wholeBytes / 2 ** 20).toFixed(1)} MiB of JSON`);

    const browser = await measureBrowser(server.baseUrl, runId);
    if (args.json) {
      process.stdout.write(
        `${JSON.stringify({ postgres: version, cores: os.cpus().length, keys: KEYS, points: POINTS, buckets: BUCKETS, http, browser, wholeBytes })}\n`,
      );
    }
  } finally {
    for (const child of children) {
      try {
        if (child.pid) process.kill(-child.pid, "SIGTERM");
      } catch {
        // gone
      }
    }
    await database.drop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench/dashboard: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
