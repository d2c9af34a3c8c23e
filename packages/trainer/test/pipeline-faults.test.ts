/**
 * `rlhf pipeline --demo --quick` as a real process through the faults of a real machine: (a) SIGKILL
 * in the middle of PPO, then the same command again — the stages before are reused (the same runs, not
 * trained again), PPO resumes from its checkpoint, every metric step is stored once; a second pipeline
 * started while the first runs is refused, naming it. (b) A private PostgreSQL (never the shared one)
 * stopped for 20 s as pretraining starts, with an outage limit of 1 s: the stage stops (at its first step,
 * or at once if its own query meets the outage), is handed back and resumed in the same process, and the
 * pipeline ends without a failed stage, every step once. The outage starts before the first step because
 * the quick stages' steps take about 3 s in all: one begun mid-stage could end before the limit.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Database } from "@rlhf/core/db";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import {
  createDatabaseOn,
  type PrivatePostgres,
  postgresBinaries,
  startPrivatePostgres,
} from "@rlhf/core/testing/postgres-server";
import { afterAll, describe, expect, it } from "vitest";
import { stepCounts } from "./fixtures/metric-steps";
import { runCli, waitFor } from "./fixtures/processes";

const TSX = createRequire(import.meta.url).resolve("tsx");
const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const STAGES = ["pretrain", "sft", "generate", "reward", "ppo", "grpo", "grpo-oracle", "rloo", "dpo"];

// The pipeline's checkpoints, for the processes this file starts (runCli passes the environment on).
const home = mkdtempSync(path.join(os.tmpdir(), "rlhf-pipeline-faults-"));
process.env.RLHF_HOME = home;

interface PipelineProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}
const live = new Set<ChildProcess>();

/** `rlhf pipeline --demo --quick` in a process group of its own, so that SIGKILL takes it whole. */
function startPipeline(url: string, args: string[] = []): PipelineProcess {
  const child = spawn(process.execPath, ["--import", TSX, MAIN, "pipeline", "--demo", "--quick", ...args], {
    env: { ...process.env, DATABASE_URL: url, RLHF_QUIET: "1" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  live.add(child);
  let text = "";
  child.stdout!.setEncoding("utf8").on("data", (c: string) => (text += c));
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (text += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, output: () => text, exited };
}

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, "SIGKILL");
  } catch {
    // already gone
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const child of live) killGroup(child);
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(home, { recursive: true, force: true });
});

/** The pipeline's runs by stage key (names demo-quick-<key>), with what a rerun must not change. */
async function stageRuns(database: Database) {
  const { rows } = await database.pool.query<{
    id: string;
    name: string;
    status: string;
    attempts: number;
    pipeline_id: string;
    finished_at: Date | null;
    points: number;
    last_write: Date | null;
  }>(
    `select r.id, r.name, r.status, r.attempts, r.pipeline_id, r.finished_at,
       (select count(*)::int from metrics m where m.run_id = r.id) as points,
       (select max(wall_time) from metrics m where m.run_id = r.id) as last_write
     from runs r order by r.created_at`,
  );
  return rows;
}

async function logOf(database: Database, runId: string): Promise<string[]> {
  const { rows } = await database.pool.query<{ message: string }>(
    "select message from run_logs where run_id = $1 order by id",
    [runId],
  );
  return rows.map((r) => r.message);
}

describe("(a) kill -9 in the middle of PPO, then the same command again", () => {
  let t: TestDatabase;

  it("reuses the finished stages as they are, resumes PPO from its checkpoint, and prints the table", async () => {
    t = await createTestDatabase("pipeline_faults");
    cleanups.push(() => t.drop());
    const url = t.url;
    const first = startPipeline(url);

    // A second pipeline of the same settings while the first runs: refused, naming the first.
    await waitFor(async () => (await stageRuns(t)).some((r) => r.status === "running"), {
      timeoutMs: 90_000,
      what: "the first pipeline's pretraining to run",
      detail: first.output,
    });
    const second = await runCli(url, ["pipeline", "--demo", "--quick"], 60_000);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(
      new RegExp(`being run by cli-${first.child.pid} on ${os.hostname()} since .*--name`),
    );

    // Killed once PPO has a checkpoint (step 2 of 4) and is still running.
    const ppoAtCheckpoint = await waitFor(
      async () => {
        const { rows } = await t.pool.query<{ id: string; status: string; step: number | null }>(
          `select r.id, r.status, (select max(step)::int from checkpoints c where c.run_id = r.id) as step
           from runs r where r.name = 'demo-quick-ppo'`,
        );
        const ppo = rows[0];
        return ppo && ppo.status === "running" && (ppo.step ?? 0) >= 2 ? ppo : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 50, what: "PPO's first checkpoint", detail: first.output },
    );
    killGroup(first.child);
    expect((await first.exited).signal).toBe("SIGKILL");

    const before = await stageRuns(t);
    const ppoBefore = before.find((r) => r.name === "demo-quick-ppo")!;
    expect(ppoBefore.status, "PPO ended before the kill: the test did not interrupt it").toBe("running");
    const earlier = before.filter((r) => r.status === "succeeded");
    expect(earlier.map((r) => r.name)).toEqual(STAGES.slice(0, 4).map((k) => `demo-quick-${k}`));
    const { rows: ppoPointsBefore } = await t.pool.query(
      "select step::int, wall_time from metrics where run_id = $1 and key = 'objective/kl' and step <= $2 order by step",
      [ppoBefore.id, ppoAtCheckpoint.step],
    );

    const again = await runCli(url, ["pipeline", "--demo", "--quick"], 240_000);
    expect(again.code, again.stderr).toBe(0);
    for (const run of earlier)
      expect(again.stderr).toContain(`${run.name.slice("demo-quick-".length)}: done (run ${run.id}), reused`);
    const resumedFrom = Number(again.stderr.match(/^ppo: resuming from step (\d+) \(run (\S+)\)$/m)?.[1]);
    expect(resumedFrom).toBeGreaterThanOrEqual(2);
    expect(again.stderr).toContain(
      `process cli-${first.child.pid} on ${os.hostname()} that was running it is gone`,
    );
    expect(again.stdout).toMatch(/^PPO\s+\d+/m);
    expect(again.stdout).toContain(`ppo=${ppoBefore.id.slice(0, 8)}`);

    const after = await stageRuns(t);
    // One pipeline, one run per stage: nothing created twice; the finished stages untouched.
    expect(after.map((r) => r.name)).toEqual(STAGES.map((k) => `demo-quick-${k}`));
    expect(new Set(after.map((r) => r.pipeline_id)).size).toBe(1);
    expect(after.every((r) => r.status === "succeeded")).toBe(true);
    for (const run of earlier) expect(after.find((r) => r.id === run.id)).toEqual(run);

    // PPO: a second attempt from its checkpoint, every iteration once, the points before it not redone.
    const ppo = after.find((r) => r.id === ppoBefore.id)!;
    expect(ppo.attempts).toBe(2);
    expect(await stepCounts(t, ppo.id, "objective/kl")).toEqual({ points: 4, steps: 4, first: 1, last: 4 });
    const { rows: ppoPointsAfter } = await t.pool.query(
      "select step::int, wall_time from metrics where run_id = $1 and key = 'objective/kl' and step <= $2 order by step",
      [ppo.id, ppoAtCheckpoint.step],
    );
    expect(ppoPointsAfter).toEqual(ppoPointsBefore);
    const log = await logOf(t, ppo.id);
    expect(
      log.some((m) => m.startsWith("attempt interrupted (not counted as a failure): process cli-")),
    ).toBe(true);
    expect(log.some((m) => m.includes(`resuming from step ${resumedFrom}`))).toBe(true);
  }, 420_000);
});

const noSystemPostgres = (() => {
  const found = postgresBinaries("system");
  return typeof found === "string" ? found : undefined;
})();

describe.skipIf(noSystemPostgres)(
  `(b) a private PostgreSQL stopped for 20 s as pretraining starts, outage limit 1 s${noSystemPostgres ? ` — skipped: ${noSystemPostgres}` : ""}`,
  () => {
    it("the stage is handed back and resumed in the same process; no stage fails, every step once", async () => {
      const server: PrivatePostgres = await startPrivatePostgres("system");
      cleanups.push(() => server.destroy());
      const { database, url } = await createDatabaseOn(server, "pipeline_faults");
      cleanups.push(() => database.close());
      const pipeline = startPipeline(url, ["--outage-limit", "1"]);

      const pretrain = await waitFor(
        async () => {
          const { rows } = await database.pool.query<{ id: string }>(
            "select id from runs where name = 'demo-quick-pretrain' and status = 'running'",
          );
          return rows[0];
        },
        { timeoutMs: 120_000, intervalMs: 50, what: "pretraining to start", detail: pipeline.output },
      );
      await server.outage(20_000);
      const exit = await Promise.race([
        pipeline.exited,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`no end after 4 min:\n${pipeline.output()}`)), 240_000),
        ),
      ]);
      expect(exit.code, pipeline.output()).toBe(0);
      expect(pipeline.output()).toMatch(/^RLOO\s+\d+/m);
      expect(pipeline.output()).toContain("pretrain was handed back");

      const after = await stageRuns(database);
      expect(after.map((r) => [r.name, r.status])).toEqual(
        STAGES.map((k) => [`demo-quick-${k}`, "succeeded"]),
      );
      const run = after.find((r) => r.id === pretrain.id)!;
      expect(run.attempts).toBe(2);
      const log = await logOf(database, pretrain.id);
      expect(log.some((m) => m.endsWith("back in the queue (not counted as a failed attempt)"))).toBe(true);
      expect(log.some((m) => /attempt failed|failed:/.test(m))).toBe(false);
      expect(await stepCounts(database, pretrain.id, "loss")).toEqual({
        points: 60,
        steps: 60,
        first: 1,
        last: 60,
      });
    }, 420_000);
  },
);
