/**
 * Faults, with real processes on private PostgreSQL servers (the system's 15 and the embedded 18, each on
 * a free port with a temp data directory — never a server anyone else uses), and what each cost:
 *
 *   1. PostgreSQL 15 stopped for --outage s under a worker's pretraining run;
 *   2. the embedded PostgreSQL 18 stopped under a worker's PPO run (a demo-size policy: 4 layers, d=128);
 *   3. PostgreSQL 15 stopped under annotators submitting rankings over HTTP to the labeler's server, with
 *      its home page open in Chromium (its database status card must say so, and recover unreloaded);
 *   4. kill -9 of the worker under a pretraining run (a new worker with the same id takes it up);
 *   5. kill -9 of the labeler's server under those annotators (started again at once);
 *   6. PostgreSQL 15 stopped under a worker's GRPO run (the demo-size policy).
 *
 * Annotators retry a submission that got no answer with the same idempotency key, as the labeler's page
 * does. Printed: a table of fault, what was running, lost, duplicated, and how long after the fault ended
 * work was recorded again (a run through an outage: its buffered telemetry written; a killed worker's run:
 * its next metric point; labeling: the next acknowledged answer).
 *
 *   pnpm --filter @rlhf/labeler build     # once: scenarios 3 and 5 serve its production build
 *   pnpm bench:faults [--outage 20] [--only 1,3] [--json]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createUser, issueSessionCookie } from "@rlhf/core/auth";
import type { Database } from "@rlhf/core/db";
import { seedDemo } from "@rlhf/core/demo";
import { importJsonl } from "@rlhf/core/labeling";
import { launchRun } from "@rlhf/core/queue";
import { runs } from "@rlhf/core/schema";
import { launchChromium, startNextApp, stopProcess } from "@rlhf/core/testing/apps";
import {
  createDatabaseOn,
  postgresBinaries,
  type ServerFlavour,
  startPrivatePostgres,
} from "@rlhf/core/testing/postgres-server";
import { saveRandomPolicy } from "@rlhf/trainer/testing/policy";
import { eq } from "drizzle-orm";

const { values: args } = parseArgs({
  options: {
    outage: { type: "string", default: "20" },
    /** Only these scenarios (numbers, comma-separated). */
    only: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const OUTAGE_MS = Number(args.outage) * 1000;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CLI = path.join(ROOT, "packages/trainer/src/cli/main.ts");
const LABELER = path.join(ROOT, "apps/labeler");
const TSX = createRequire(path.join(ROOT, "packages/trainer/package.json")).resolve("tsx");
const SECRET = "faults-secret-faults-secret-faults-00";
process.env.RLHF_HOME ??= mkdtempSync(path.join(os.tmpdir(), "rlhf-faults-home-"));
process.env.RLHF_QUIET = "1";

const say = (line: string) => {
  if (!args.json) process.stdout.write(`${line}\n`);
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Row {
  fault: string;
  running: string;
  lost: number;
  duplicated: number;
  recoveredSeconds: number;
  note: string;
}

const cleanup: (() => Promise<void> | void)[] = [];

async function privateDatabase(flavour: ServerFlavour) {
  const server = await startPrivatePostgres(flavour);
  cleanup.push(() => server.destroy());
  const { database, url } = await createDatabaseOn(server, "faults");
  cleanup.push(() => database.close());
  return { server, database, url };
}

/** `rlhf worker --json` on `url`, in its own process group; its events as they come. */
function startWorker(url: string, id: string) {
  const child = spawn(
    process.execPath,
    ["--import", TSX, CLI, "worker", "--json", "--id", id, "--poll", "500"],
    {
      env: { ...process.env, DATABASE_URL: url },
      stdio: ["ignore", "pipe", "inherit"],
      detached: true,
    },
  );
  const events: Record<string, unknown>[] = [];
  let partial = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop()!;
    for (const line of lines) if (line.startsWith("{")) events.push(JSON.parse(line));
  });
  const kill = () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // gone
    }
  };
  cleanup.push(kill);
  return { child, events, kill };
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

async function runRow(database: Database, id: string) {
  const [row] = await database.db.select().from(runs).where(eq(runs.id, id));
  return row!;
}

/** Steps of `key` missing from 1..last and points beyond one per step; the first point written after `after`. */
async function metricFigures(database: Database, runId: string, key: string, after: Date) {
  const { rows } = await database.pool.query(
    `select count(*)::int as points, count(distinct step)::int as steps, max(step)::int as last,
       (select min(wall_time) from metrics where run_id = $1 and key = $2 and wall_time > $3) as next
     from metrics where run_id = $1 and key = $2`,
    [runId, key, after],
  );
  const r = rows[0] as { points: number; steps: number; last: number; next: Date | null };
  return {
    lost: r.last - r.steps,
    duplicated: r.points - r.steps,
    recoveredSeconds: r.next ? (r.next.getTime() - after.getTime()) / 1000 : Number.NaN,
  };
}

async function loopDelay(database: Database, runId: string): Promise<string> {
  const { rows } = await database.pool.query(
    "select message from run_logs where run_id = $1 and message like 'event loop:%' order by id desc limit 1",
    [runId],
  );
  return rows[0]?.message ?? "";
}

/** 1 and 2: a worker's run, the database stopped once it is under way. */
async function outageUnderRun(flavour: ServerFlavour, kind: "pretrain" | "ppo" | "grpo"): Promise<Row> {
  const { server, database, url } = await privateDatabase(flavour);
  await seedDemo(database.db, { corpusSize: 300, sftSize: 20 });
  const config =
    kind === "pretrain" ? pretrainConfig(3000) : kind === "ppo" ? await ppoConfig() : await grpoConfig();
  const launched = await launchRun(database, { kind, name: `faults-${kind}`, config });
  const worker = startWorker(url, `faults-${kind}`);
  await until(
    "the run to start its steps",
    async () => ((await runRow(database, launched.id)).step ?? 0) >= 3,
  );
  await server.outage(OUTAGE_MS);
  const back = new Date();
  await until("the run to finish", async () =>
    ["succeeded", "failed"].includes((await runRow(database, launched.id)).status),
  );
  worker.kill();
  const run = await runRow(database, launched.id);
  const key = { pretrain: "loss", ppo: "objective/kl", grpo: "reward" }[kind];
  // It trained on through the outage; recovered = when its first write after it went through (the line
  // saying so is stamped then).
  const { rows } = await database.pool.query(
    "select min(ts) as at from run_logs where run_id = $1 and message like 'database answers again%'",
    [launched.id],
  );
  const written = rows[0]?.at as Date | null;
  return {
    fault: `${flavour === "system" ? "PostgreSQL 15" : "embedded PostgreSQL 18"} stopped ${OUTAGE_MS / 1000} s`,
    running: {
      pretrain: "pretraining run (worker)",
      ppo: "PPO run (worker, demo-size policy)",
      grpo: "GRPO run (worker, demo-size policy)",
    }[kind],
    ...(await metricFigures(database, launched.id, key, back)),
    recoveredSeconds: written ? Math.max(0, (written.getTime() - back.getTime()) / 1000) : Number.NaN,
    note: `${run.status}, attempts ${run.attempts}; ${await loopDelay(database, launched.id)}`,
  };
}

/** 4: kill -9 of the worker; a new worker with the same id recovers its run at once. */
async function killWorker(): Promise<Row> {
  const { database, url } = await privateDatabase("system");
  await seedDemo(database.db, { corpusSize: 300, sftSize: 20 });
  const launched = await launchRun(database, {
    kind: "pretrain",
    name: "faults-kill",
    config: pretrainConfig(1500),
  });
  const first = startWorker(url, "faults-kill");
  await until("the first checkpoint", async () => {
    const { rows } = await database.pool.query("select 1 from checkpoints where run_id = $1", [launched.id]);
    return rows.length > 0;
  });
  first.kill();
  const killed = new Date();
  startWorker(url, "faults-kill");
  await until("the run to finish", async () =>
    ["succeeded", "failed"].includes((await runRow(database, launched.id)).status),
  );
  const run = await runRow(database, launched.id);
  return {
    fault: "kill -9 of the worker (and its job process)",
    running: "pretraining run",
    ...(await metricFigures(database, launched.id, "loss", killed)),
    note: `${run.status}, attempts ${run.attempts} (resumed from its last checkpoint; steps after it trained again)`,
  };
}

function pretrainConfig(maxSteps: number) {
  return {
    model: { preset: "tiny", nLayer: 1, nEmbd: 32, nHead: 2 },
    maxSteps,
    batchSize: 2,
    blockSize: 16,
    checkpointEvery: 250,
    evalEvery: 250,
    tokenizer: { vocabSize: 300 },
  };
}

/** A random policy of the demo's size (4 layers, d=128, vocabulary 512). */
async function demoSizePolicy(): Promise<string> {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), "rlhf-faults-policy-")), "policy");
  const size = { nLayer: 4, nEmbd: 128, nHead: 4, nPositions: 128 };
  await saveRandomPolicy(dir, size, { vocabSize: 512, seed: 3 });
  return dir;
}

async function grpoConfig() {
  return {
    policy: await demoSizePolicy(),
    rewards: [{ function: "contains", params: { text: "e", perOccurrence: true }, name: "e_count" }],
    iterations: 40,
    promptsPerIteration: 4,
    numGenerations: 4,
    maxCompletionLength: 24,
    numIterations: 2,
    miniBatches: 2,
    sampleEvery: 5,
    checkpointEvery: 10,
    backend: "wasm",
  };
}

async function ppoConfig() {
  return {
    policy: await demoSizePolicy(),
    rewardFunction: "contains:e",
    iterations: 40,
    rolloutBatchSize: 16,
    miniBatches: 2,
    ppoEpochs: 2,
    responseLength: 24,
    sampleEvery: 5,
    checkpointEvery: 10,
    backend: "wasm",
  };
}

/**
 * 3 and 5: annotators ranking over HTTP through the labeler's server; `fault` stops the database or kills
 * the server (and starts it again). Each answer is sent until acknowledged, with its key.
 */
async function labelingUnder(fault: "outage" | "kill"): Promise<Row> {
  const { server: db, database, url } = await privateDatabase("system");
  const cookies: string[] = [];
  for (let i = 0; i < 8; i++) {
    const user = await createUser(database.db, {
      email: `a${i}@faults.invalid`,
      name: `a${i}`,
      password: "faults-password",
    });
    cookies.push(await issueSessionCookie(database.db, user.id, { secret: SECRET }));
  }
  const lines = Array.from({ length: 5000 }, (_, i) =>
    JSON.stringify({ prompt: `Prompt ${i}`, responses: [{ text: `A ${i}` }, { text: `B ${i}` }] }),
  );
  const { datasetId } = await importJsonl(database.db, {
    dataset: "faults",
    text: lines.join("\n"),
    requiredRankings: 2,
    seed: 1,
  });
  const start = () =>
    startNextApp({
      appDir: LABELER,
      env: { DATABASE_URL: url, BETTER_AUTH_SECRET: SECRET },
      output: "stderr",
    });
  let app: { baseUrl: string; server: ChildProcess } = await start();
  cleanup.push(() => stopProcess(app.server));

  const acks: { key: string; at: number }[] = [];
  /** What the page's status card said, and when. */
  const health: { at: number; ok: boolean }[] = [];
  let stop = false;
  const call = async (cookie: string, procedure: string, input: unknown) => {
    try {
      const response = await fetch(`${app.baseUrl}/api/trpc/${procedure}`, {
        method: "POST",
        headers: { cookie, "content-type": "application/json", origin: app.baseUrl },
        body: JSON.stringify({ json: input }),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await response.json()) as { result?: { data?: { json?: unknown } } };
      return response.ok ? { ok: true as const, data: body.result?.data?.json } : { ok: false as const };
    } catch {
      return { ok: false as const };
    }
  };
  const annotator = async (cookie: string) => {
    while (!stop) {
      const got = await call(cookie, "labeling.next", { datasetId });
      const task = got.ok
        ? (got.data as { taskId: string; completions: { id: string }[] } | null)
        : undefined;
      if (!task) {
        await sleep(300);
        continue;
      }
      const input = {
        taskId: task.taskId,
        ranking: task.completions.map((c) => [c.id]),
        timeMs: 500,
        idempotencyKey: randomUUID(),
      };
      for (let attempt = 0; !(await call(cookie, "labeling.submit", input)).ok; attempt++)
        await sleep(Math.min(500 * 2 ** attempt, 4000));
      acks.push({ key: input.idempotencyKey, at: Date.now() });
      await sleep(100);
    }
  };
  // The labeler's home page in Chromium, never reloaded: what its database status card says, every 0.5 s.
  const browser = await launchChromium();
  // (In the kill -9 scenario the page stays on the old server's address; only the outage looks at it.)
  cleanup.push(() => browser.close());
  const page = await (await browser.newContext({ extraHTTPHeaders: { cookie: cookies[0]! } })).newPage();
  await page.goto(app.baseUrl);
  const card = page.getByTestId("database-status");
  await card
    .getByText("connected", { exact: true })
    .waitFor({ timeout: 30_000 })
    .catch(async (error: Error) => {
      throw new Error(
        `${error.message}\nthe page at ${page.url()} says: ${(await page.textContent("body"))?.slice(0, 500)}`,
      );
    });
  const poller = (async () => {
    while (!stop) {
      const text = (await card.textContent({ timeout: 2000 }).catch(() => "")) ?? "";
      health.push({ at: Date.now(), ok: !text.includes("unreachable") && text.includes("connected") });
      await sleep(500);
    }
  })();
  const workers = cookies.map((c) => annotator(c));
  await sleep(4000);
  let back: number;
  if (fault === "outage") {
    await db.outage(OUTAGE_MS);
    back = Date.now();
  } else {
    process.kill(-app.server.pid!, "SIGKILL");
    app = await start();
    back = Date.now();
  }
  await sleep(8000);
  stop = true;
  await Promise.all([...workers, poller]);
  await stopProcess(app.server);

  const { rows } = await database.pool.query(
    `select count(*)::int as stored,
       count(*) filter (where idempotency_key = any($1::text[]))::int as acknowledged,
       count(distinct idempotency_key)::int as keys
     from rankings`,
    [acks.map((a) => a.key)],
  );
  const r = rows[0] as { stored: number; acknowledged: number; keys: number };
  const firstAfter = acks.find((a) => a.at > back);
  const sawDown = health.some((h) => !h.ok);
  const upAgain = health.find((h) => h.ok && h.at > back);
  return {
    fault:
      fault === "outage" ? `PostgreSQL 15 stopped ${OUTAGE_MS / 1000} s` : "kill -9 of the labeler's server",
    running: `8 annotators ranking over HTTP (${acks.length} answers acknowledged)`,
    lost: acks.length - r.acknowledged,
    // Stored beyond the acknowledged answers, once each (a key is unique in the table).
    duplicated: r.stored - r.acknowledged + (r.stored - r.keys),
    recoveredSeconds: firstAfter ? (firstAfter.at - back) / 1000 : Number.NaN,
    note:
      fault === "outage"
        ? `the page's status card: ${sawDown ? "unreachable" : "never unreachable"}, then ${upAgain ? `connected ${((upAgain.at - back) / 1000).toFixed(1)} s after, without a reload` : "never connected again"}`
        : "server started again on a new port; clients moved to it",
  };
}

async function main(): Promise<void> {
  const missing = (["system", "embedded"] as const)
    .map((f) => postgresBinaries(f))
    .filter((m): m is string => typeof m === "string");
  if (missing.length > 0) throw new Error(`cannot run: ${missing.join("; ")}`);
  const rows: Row[] = [];
  const scenarios: [string, () => Promise<Row>][] = [
    ["PostgreSQL 15 outage under pretraining", () => outageUnderRun("system", "pretrain")],
    ["embedded PostgreSQL 18 outage under PPO", () => outageUnderRun("embedded", "ppo")],
    ["PostgreSQL 15 outage under labeling", () => labelingUnder("outage")],
    ["kill -9 of the worker", () => killWorker()],
    ["kill -9 of the labeler's server", () => labelingUnder("kill")],
    ["PostgreSQL 15 outage under GRPO", () => outageUnderRun("system", "grpo")],
  ];
  const only = args.only?.split(",").map(Number);
  for (const [index, [name, scenario]] of scenarios.entries()) {
    if (only && !only.includes(index + 1)) continue;
    say(`… ${name}`);
    const started = Date.now();
    rows.push(await scenario());
    say(`  done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    for (const undo of cleanup.splice(0).reverse()) await Promise.resolve(undo()).catch(() => {});
  }
  if (args.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  say("");
  say("| fault | what was running | lost | duplicated | recovered in | note |");
  say("| --- | --- | ---: | ---: | ---: | --- |");
  for (const r of rows)
    say(
      `| ${r.fault} | ${r.running} | ${r.lost} | ${r.duplicated} | ${r.recoveredSeconds.toFixed(1)} s | ${r.note} |`,
    );
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`bench:faults: ${(error as Error).message}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const undo of cleanup.splice(0).reverse()) await Promise.resolve(undo()).catch(() => {});
    process.exit();
  });
