/**
 * Load on the labeler: N simulated annotators, each signed in with their own session, fetch a task
 * (once; afterwards each answer's reply carries the next one, as on the page) and submit a ranking of it,
 * over HTTP, against the production build served by `next start` on a
 * scratch database (the embedded PostgreSQL unless DATABASE_URL is set; dropped afterwards). A share of
 * the submissions is sent twice (a double click / a retry) to exercise idempotency.
 *
 * Afterwards it checks that every acknowledged submission is in the database exactly once, that no task
 * has more rankings than it requires, and that every task's counter equals its stored rankings.
 *
 *   pnpm --filter @rlhf/labeler build
 *   pnpm bench:labeler [--annotators 50,500] [--seconds 20] [--think-ms 2000] [--processes 1] [--json]
 *   pnpm bench:labeler --profile <dir>   # a V8 CPU profile of the server (bench/cpu-profile.cjs)
 *
 * `--think-ms` is the mean time an annotator spends on a task between fetching and submitting (uniform
 * in [0.5, 1.5] × it); 0 makes every annotator a closed loop with no pause (a saturation test).
 * `--processes N` starts N servers on the one database behind a round-robin proxy on 127.0.0.1 (in this
 * process: its CPU is not in the servers' figure), as a team outgrowing one process would run them.
 * Aim: p99 < 50 ms at 500 annotators on the embedded database.
 */
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createUser, issueSessionCookie } from "@rlhf/core/auth";
import { importJsonl } from "@rlhf/core/labeling";
import { createTestDatabase } from "@rlhf/core/testing";
import { startNextApp } from "@rlhf/core/testing/apps";

const { values: args } = parseArgs({
  options: {
    annotators: { type: "string", default: "50,500" },
    seconds: { type: "string", default: "20" },
    "think-ms": { type: "string", default: "2000" },
    tasks: { type: "string", default: "20000" },
    required: { type: "string", default: "3" },
    "retry-share": { type: "string", default: "0.05" },
    json: { type: "boolean", default: false },
    /** Only time single requests one after another (where the time of one request goes). */
    probe: { type: "boolean", default: false },
    /**
     * Labeler processes (`next start` each) on the one database; more than one are reached through a
     * round-robin proxy on the loopback interface, as a team would put a load balancer in front.
     */
    processes: { type: "string", default: "1" },
    /** Write a V8 CPU profile of the web server into this directory (open it in Chrome's DevTools). */
    profile: { type: "string" },
  },
});
const LEVELS = args.annotators.split(",").map(Number);
const SECONDS = Number(args.seconds);
const THINK_MS = Number(args["think-ms"]);
const TASKS = Number(args.tasks);
const REQUIRED = Number(args.required);
const RETRY_SHARE = Number(args["retry-share"]);
const PROCESSES = Number(args.processes);
const SECRET = "bench-secret-bench-secret-bench-secret-0";
const LABELER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../apps/labeler");

if (!process.env.DATABASE_URL) process.env.RLHF_HOME ??= path.join(os.tmpdir(), "rlhf-bench-home");
process.env.RLHF_QUIET ??= "1";
const say = (line: string) => {
  if (!args.json) process.stdout.write(`${line}\n`);
};

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * A round-robin HTTP proxy on 127.0.0.1 in front of `targets` (each request to the next one): what a
 * load balancer does for N labeler processes. No stickiness is needed: sessions and leases live in the
 * database, so any process answers any annotator. It adds X-Forwarded-For as a real proxy would.
 */
async function startProxy(targets: string[]): Promise<{ url: string; close: () => Promise<void> }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  let turn = 0;
  const server = http.createServer((req, res) => {
    const target = new URL(targets[turn++ % targets.length]!);
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, "x-forwarded-for": req.socket.remoteAddress ?? "" },
        agent,
      },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Every process's /proc/<pid>/stat: its id, parent, process group and CPU ticks (own, and exited children's). */
function* processStats(): Generator<{
  pid: number;
  ppid: number;
  pgid: number;
  own: number;
  children: number;
}> {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    yield {
      pid: Number(entry),
      ppid: Number(fields[1]),
      pgid: Number(fields[2]),
      own: Number(fields[11]) + Number(fields[12]), // utime + stime
      children: Number(fields[13]) + Number(fields[14]), // cutime + cstime
    };
  }
}

const USER_HZ = 100;

/** CPU seconds used so far by the processes of a process group (the `next start` server), from /proc. */
function groupCpuSeconds(pgid: number): number {
  let ticks = 0;
  for (const p of processStats()) if (p.pgid === pgid) ticks += p.own;
  return ticks / USER_HZ;
}

/** CPU seconds of a process and of its children (live, and those that exited), from /proc. */
function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of processStats()) {
    if (p.pid === pid) ticks += p.own + p.children;
    else if (p.ppid === pid) ticks += p.own;
  }
  return ticks / USER_HZ;
}

/**
 * PostgreSQL's side of the load, when it runs on this machine (the embedded server, or a local
 * DATABASE_URL): CPU seconds of the whole server (its postmaster's process tree: backends, WAL writer,
 * checkpointer) and the connections opened to the bench's database so far. Undefined for a remote server.
 */
async function postgresCounters(
  t: Scratch,
): Promise<(() => Promise<{ cpu: number; sessions: number }>) | undefined> {
  const { rows } = await t.pool.query<{ pid: number }>("select pg_backend_pid() as pid");
  let postmaster: number;
  try {
    const stat = readFileSync(`/proc/${rows[0]!.pid}/stat`, "utf8");
    postmaster = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
  return async () => {
    const { rows: stats } = await t.pool.query<{ sessions: string }>(
      "select pg_stat_clear_snapshot(), (select sessions from pg_stat_database where datname = current_database()) as sessions",
    );
    return { cpu: treeCpuSeconds(postmaster), sessions: Number(stats[0]!.sessions) };
  };
}

// tRPC over HTTP with the superjson transformer: inputs and outputs are wrapped in {"json": ...}.
interface Call {
  ok: boolean;
  status: number;
  ms: number;
  data?: unknown;
  code?: string;
}

async function trpc(
  url: string,
  cookie: string,
  procedure: string,
  input: unknown,
  method: "GET" | "POST",
): Promise<Call> {
  const start = performance.now();
  try {
    const response =
      method === "GET"
        ? await fetch(
            `${url}/api/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`,
            {
              headers: { cookie },
            },
          )
        : await fetch(`${url}/api/trpc/${procedure}`, {
            method: "POST",
            headers: { cookie, "content-type": "application/json" },
            body: JSON.stringify({ json: input }),
          });
    const body = (await response.json()) as {
      result?: { data?: { json?: unknown } };
      error?: { json?: { data?: { code?: string } } };
    };
    return {
      ok: response.ok,
      status: response.status,
      ms: performance.now() - start,
      data: body.result?.data?.json,
      code: body.error?.json?.data?.code,
    };
  } catch {
    return { ok: false, status: 0, ms: performance.now() - start };
  }
}

interface NextTask {
  taskId: string;
  completions: { id: string }[];
}

type Scratch = Awaited<ReturnType<typeof createTestDatabase>>;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Annotators with sessions made the way better-auth makes them (a session row and a signed cookie); the
 * first one also has a password, to check a real sign-in against the server.
 */
async function seedAnnotators(t: Scratch): Promise<{ email: string; cookies: string[] }> {
  const maxAnnotators = Math.max(...LEVELS);
  const first = await createUser(t.db, {
    email: "annotator0@bench.invalid",
    name: "annotator0",
    password: "bench-password",
  });
  const users = [
    first,
    ...Array.from({ length: maxAnnotators - 1 }, (_, i) => ({
      id: randomUUID(),
      email: `annotator${i + 1}@bench.invalid`,
    })),
  ];
  await t.pool.query(
    "insert into users (id, name, email, role) select id, email, email, 'annotator' from unnest($1::text[], $2::text[]) as u(id, email)",
    [users.slice(1).map((u) => u.id), users.slice(1).map((u) => u.email)],
  );
  const cookies: string[] = [];
  for (const user of users) cookies.push(await issueSessionCookie(t.db, user.id, { secret: SECRET }));
  return { email: first.email, cookies };
}

/** The tasks: 3 of 4 pairwise, 1 of 4 with four responses. The dataset's id. */
async function seedTasks(t: Scratch): Promise<string> {
  const lines = Array.from({ length: TASKS }, (_, i) => {
    const k = i % 4 === 3 ? 4 : 2;
    return JSON.stringify({
      prompt: `Prompt ${i}: which answer is better?`,
      responses: Array.from({ length: k }, (_, j) => ({
        text: `Answer ${j} to prompt ${i}.`,
        source: `model-${j}`,
      })),
    });
  });
  const { datasetId } = await importJsonl(t.db, {
    dataset: "bench",
    text: lines.join("\n"),
    requiredRankings: REQUIRED,
    seed: 1,
  });
  return datasetId;
}

/** PROCESSES production servers of the labeler (pushed to `servers` as they start), behind a proxy if several. */
async function startServers(t: Scratch, servers: ChildProcess[]) {
  const startOne = () =>
    startNextApp({
      appDir: LABELER,
      env: {
        DATABASE_URL: t.url,
        BETTER_AUTH_SECRET: SECRET,
        ...(args.profile
          ? {
              NODE_OPTIONS: `--require ${path.join(path.dirname(fileURLToPath(import.meta.url)), "cpu-profile.cjs")}`,
              RLHF_CPU_PROFILE_DIR: path.resolve(args.profile),
            }
          : {}),
      },
      output: "stderr",
    });
  const bases: string[] = [];
  for (let i = 0; i < PROCESSES; i++) {
    const started = await startOne();
    servers.push(started.server);
    bases.push(started.baseUrl);
  }
  const proxy = PROCESSES > 1 ? await startProxy(bases) : undefined;
  return { base: proxy?.url ?? bases[0]!, proxy };
}

/** Sanity: a real sign-in through better-auth works against this server, and the cookies made are accepted. */
async function checkSessions(base: string, email: string, cookie: string, datasetId: string): Promise<void> {
  const signIn = await fetch(`${base}/api/auth/sign-in/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: base },
    body: JSON.stringify({ email, password: "bench-password" }),
  });
  if (!signIn.ok) throw new Error(`sign-in failed: ${signIn.status} ${await signIn.text()}`);
  const probe = await trpc(base, cookie, "labeling.progress", { datasetId, utcOffsetMinutes: 0 }, "GET");
  if (!probe.ok) throw new Error(`the session cookie was refused: ${probe.status}`);
}

/** `--probe`: single requests one after another, each kind 40 times. */
async function probeRequests(base: string, cookies: string[], datasetId: string): Promise<void> {
  const sequential = async (label: string, fn: () => Promise<unknown>) => {
    const times: number[] = [];
    for (let i = 0; i < 40; i++) {
      const start = performance.now();
      await fn();
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    say(
      `${label.padEnd(32)} p50 ${quantile(times, 0.5).toFixed(1)} ms  p90 ${quantile(times, 0.9).toFixed(1)} ms`,
    );
  };
  await sequential("static file", () => fetch(`${base}/icon.svg`).then((r) => r.arrayBuffer()));
  await sequential("health.status (no session)", () => trpc(base, "", "health.status", undefined, "GET"));
  await sequential("account.me (session)", () => trpc(base, cookies[1]!, "account.me", undefined, "GET"));
  await sequential("labeling.progress (session)", () =>
    trpc(base, cookies[1]!, "labeling.progress", { datasetId, utcOffsetMinutes: 0 }, "GET"),
  );
  // What the browser sends (httpBatchStreamLink): a batch of one, answered as a JSON-lines stream.
  await sequential("labeling.progress (browser's batch)", () =>
    fetch(
      `${base}/api/trpc/labeling.progress?batch=1&input=${encodeURIComponent(JSON.stringify({ 0: { json: { datasetId, utcOffsetMinutes: 0 } } }))}`,
      { headers: { cookie: cookies[1]!, "trpc-accept": "application/jsonl" } },
    ).then((r) => r.text()),
  );
  await sequential("labeling.next (held task)", () =>
    trpc(base, cookies[1]!, "labeling.next", { datasetId }, "POST"),
  );
  await sequential("labeling.next + submit", async () => {
    const got = await trpc(base, cookies[2]!, "labeling.next", { datasetId }, "POST");
    const task = got.data as NextTask;
    await trpc(
      base,
      cookies[2]!,
      "labeling.submit",
      { taskId: task.taskId, ranking: task.completions.map((c) => [c.id]), idempotencyKey: randomUUID() },
      "POST",
    );
  });
}

/** What one load level counts: latencies of each call, submissions, conflicts, errors by HTTP status. */
interface LevelCounts {
  next: number[];
  submit: number[];
  submissions: number;
  conflicts: number;
  errors: number;
  /** HTTP status (0: no answer) → count. */
  errorStatuses: Map<number, number>;
  empty: number;
}

/** Every idempotency key acknowledged, with the ranking id the server answered. */
type Acknowledged = Map<string, string>;

/**
 * One annotator until `end`: the page asks for a task once, afterwards each answer's reply carries the next
 * one; a think time per task; some answers sent twice (a retry after a lost reply).
 */
async function annotate(
  base: string,
  cookie: string,
  datasetId: string,
  end: number,
  counts: LevelCounts,
  acknowledged: Acknowledged,
): Promise<void> {
  const failed = (status: number) => {
    counts.errors++;
    counts.errorStatuses.set(status, (counts.errorStatuses.get(status) ?? 0) + 1);
  };
  // Arrivals spread over one think time, so that not all annotators open the page in the same instant.
  await sleep(Math.random() * Math.max(1000, THINK_MS));
  let carried: NextTask | null | undefined;
  while (Date.now() < end) {
    let task: NextTask | null;
    if (carried !== undefined) task = carried;
    else {
      const got = await trpc(base, cookie, "labeling.next", { datasetId }, "POST");
      counts.next.push(got.ms);
      if (!got.ok) {
        failed(got.status);
        continue;
      }
      task = got.data as NextTask | null;
    }
    carried = undefined;
    if (!task) {
      counts.empty++;
      await sleep(500);
      continue;
    }
    if (THINK_MS > 0) await sleep(THINK_MS * (0.5 + Math.random()));
    const ids = task.completions.map((c) => c.id).sort(() => Math.random() - 0.5);
    const input = {
      taskId: task.taskId,
      ranking: ids.map((id) => [id]),
      timeMs: THINK_MS,
      idempotencyKey: randomUUID(),
      nextIn: datasetId,
    };
    const sends = Math.random() < RETRY_SHARE ? 2 : 1;
    for (let s = 0; s < sends; s++) {
      const sent = await trpc(base, cookie, "labeling.submit", input, "POST");
      counts.submit.push(sent.ms);
      if (sent.ok) {
        const {
          rankingId,
          status,
          next: following,
        } = sent.data as {
          rankingId: string;
          status: string;
          next?: NextTask | null;
        };
        carried = following;
        if (s === 0 || status === "duplicate") {
          const known = acknowledged.get(input.idempotencyKey);
          if (known && known !== rankingId)
            throw new Error(`key ${input.idempotencyKey} acknowledged as two rankings`);
          acknowledged.set(input.idempotencyKey, rankingId);
        }
        if (s === 0) counts.submissions++;
      } else if (sent.code === "CONFLICT") counts.conflicts++;
      else failed(sent.status);
    }
  }
}

/** `level` annotators for SECONDS: the level's row of figures, printed. */
async function runLevel(
  base: string,
  cookies: string[],
  datasetId: string,
  level: number,
  acknowledged: Acknowledged,
  serversCpu: () => number,
  postgres: Awaited<ReturnType<typeof postgresCounters>>,
): Promise<Record<string, unknown>> {
  const counts: LevelCounts = {
    next: [],
    submit: [],
    submissions: 0,
    conflicts: 0,
    errors: 0,
    errorStatuses: new Map(),
    empty: 0,
  };
  const end = Date.now() + SECONDS * 1000;
  const started = performance.now();
  const cpuBefore = serversCpu();
  const postgresBefore = await postgres?.();
  const benchBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: level }, (_, i) =>
      annotate(base, cookies[i]!, datasetId, end, counts, acknowledged),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const serverCpu = serversCpu() - cpuBefore;
  const benchCpu = process.cpuUsage(benchBefore);
  const postgresAfter = await postgres?.();
  const requests = counts.next.length + counts.submit.length;
  const perRequest = (seconds: number) => Number(((seconds * 1000) / requests).toFixed(2));
  const { next, submit, submissions, conflicts, errors, errorStatuses } = counts;
  next.sort((a, b) => a - b);
  submit.sort((a, b) => a - b);
  const all = [...next, ...submit].sort((a, b) => a - b);
  const row = {
    annotators: level,
    processes: PROCESSES,
    seconds: Number(seconds.toFixed(1)),
    thinkMs: THINK_MS,
    submissions,
    submissionsPerSecond: Number((submissions / seconds).toFixed(1)),
    requestsPerSecond: Number(((next.length + submit.length) / seconds).toFixed(1)),
    nextP50: Number(quantile(next, 0.5).toFixed(1)),
    nextP99: Number(quantile(next, 0.99).toFixed(1)),
    submitP50: Number(quantile(submit, 0.5).toFixed(1)),
    submitP99: Number(quantile(submit, 0.99).toFixed(1)),
    allP50: Number(quantile(all, 0.5).toFixed(1)),
    allP99: Number(quantile(all, 0.99).toFixed(1)),
    conflicts,
    errors,
    errorStatuses: Object.fromEntries(errorStatuses),
    noTaskAnswers: counts.empty,
    /** CPU time of the web server per request (PostgreSQL's is not counted). */
    serverCpuMsPerRequest: perRequest(serverCpu),
    /** CPU time of the whole PostgreSQL server per request (when it runs on this machine). */
    postgresCpuMsPerRequest:
      postgresBefore && postgresAfter ? perRequest(postgresAfter.cpu - postgresBefore.cpu) : null,
    /** Connections opened to the database during the level (a new backend plans everything afresh). */
    connectionsOpened:
      postgresBefore && postgresAfter ? postgresAfter.sessions - postgresBefore.sessions : null,
    /** CPU time of this load generator per request (and of the proxy, with several processes). */
    benchCpuMsPerRequest: perRequest((benchCpu.user + benchCpu.system) / 1e6),
    loadAverage: Number(os.loadavg()[0]!.toFixed(2)),
  };
  say(
    `${String(level).padStart(4)} annotators, ${PROCESSES} process${PROCESSES > 1 ? "es" : ""}: ${row.submissionsPerSecond} submissions/s (${row.requestsPerSecond} requests/s); ` +
      `next p50 ${row.nextP50} ms p99 ${row.nextP99} ms; submit p50 ${row.submitP50} ms p99 ${row.submitP99} ms; ` +
      `all p99 ${row.allP99} ms; ${conflicts} conflicts, ${errors} errors${errors ? ` (HTTP ${[...errorStatuses].map(([status, n]) => `${status}: ${n}`).join(", ")})` : ""}; ` +
      `CPU per request: server ${row.serverCpuMsPerRequest} ms, PostgreSQL ${row.postgresCpuMsPerRequest ?? "?"} ms, load generator ${row.benchCpuMsPerRequest} ms; ` +
      `${row.connectionsOpened ?? "?"} database connections opened; load average ${row.loadAverage}`,
  );
  return row;
}

/** Every acknowledged submission is stored exactly once; nothing exceeds its required count. */
async function checkStored(t: Scratch, acknowledged: Acknowledged) {
  const keys = [...acknowledged.keys()];
  const stored = await t.pool.query<{ idempotency_key: string; id: string }>(
    "select idempotency_key, id from rankings where idempotency_key = any($1)",
    [keys],
  );
  const storedByKey = new Map(stored.rows.map((r) => [r.idempotency_key, r.id]));
  const missing = keys.filter((k) => !storedByKey.has(k));
  const mismatched = keys.filter((k) => storedByKey.has(k) && storedByKey.get(k) !== acknowledged.get(k));
  const { rows: totals } = await t.pool.query<{
    rankings: number;
    duplicates: number;
    over: number;
    drift: number;
  }>(
    `select (select count(*)::int from rankings) as rankings,
      (select count(*)::int from (select task_id, annotator_id from rankings group by 1, 2 having count(*) > 1) d) as duplicates,
      (select count(*)::int from comparison_tasks where ranking_count > required_rankings) as over,
      (select count(*)::int from comparison_tasks t where t.ranking_count <>
        (select count(*) from rankings r where r.task_id = t.id and not r.skipped)) as drift`,
  );
  const check = {
    acknowledged: keys.length,
    ...totals[0]!,
    missing: missing.length,
    mismatched: mismatched.length,
  };
  const ok =
    check.missing === 0 &&
    check.mismatched === 0 &&
    check.duplicates === 0 &&
    check.over === 0 &&
    check.drift === 0 &&
    check.rankings === check.acknowledged;
  say(
    `check: ${check.acknowledged} acknowledged, ${check.rankings} stored, ${check.missing} missing, ${check.mismatched} stored under another id, ` +
      `${check.duplicates} duplicate (task, annotator), ${check.over} tasks over their required count, ${check.drift} counters off: ${ok ? "OK" : "FAILED"}`,
  );
  return { check, ok };
}

async function main() {
  const t = await createTestDatabase("rlhf_bench_labeler");
  const servers: ChildProcess[] = [];
  let proxy: Awaited<ReturnType<typeof startProxy>> | undefined;
  try {
    const { email, cookies } = await seedAnnotators(t);
    const datasetId = await seedTasks(t);
    // The import just wrote ~70,000 rows: let PostgreSQL's statistics and visibility map of the imported
    // tables catch up now, as autovacuum would soon after an import, instead of during the first measured
    // level. Not the still-empty rankings and leases: analyzed empty, they make the planner expect them to
    // stay empty (labeling.progress went from 7 to 57 ms), and autovacuum leaves tables that small alone.
    await t.pool.query("vacuum (analyze) datasets, comparison_tasks, task_completions, completions");
    const started = await startServers(t, servers);
    proxy = started.proxy;
    const base = started.base;
    const serversCpu = () => servers.reduce((sum, s) => sum + groupCpuSeconds(s.pid!), 0);
    const postgres = await postgresCounters(t);
    await checkSessions(base, email, cookies[0]!, datasetId);
    if (args.probe) {
      await probeRequests(base, cookies, datasetId);
      return;
    }

    // Warm up (route modules loaded, JIT compiled, pool connections open) before anything is measured.
    await Promise.all(
      cookies.slice(0, Math.min(10, cookies.length)).map(async (cookie) => {
        for (let i = 0; i < 5; i++)
          await trpc(base, cookie, "labeling.progress", { datasetId, utcOffsetMinutes: 0 }, "GET");
      }),
    );
    const acknowledged: Acknowledged = new Map(); // idempotency key → ranking id
    const results: Record<string, unknown>[] = [];
    for (const level of LEVELS)
      results.push(await runLevel(base, cookies, datasetId, level, acknowledged, serversCpu, postgres));

    const { check, ok } = await checkStored(t, acknowledged);
    if (args.json) process.stdout.write(`${JSON.stringify({ results, check, ok }, null, 2)}\n`);
    if (!ok) process.exitCode = 1;
  } finally {
    await proxy?.close();
    for (const server of servers) {
      if (!server.pid) continue;
      const exited = new Promise((resolve) => server.once("exit", resolve));
      try {
        process.kill(server.pid, "SIGINT");
      } catch {}
      await Promise.race([exited, sleep(args.profile ? 20_000 : 5000)]);
      try {
        process.kill(-server.pid, "SIGKILL");
      } catch {}
    }
    await t.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
