/**
 * Metrics from anywhere: `ingest()` (what the dashboard's POST /api/ingest calls) with its tokens and
 * payload checks, and `rlhf log`, the CLI in front of it.
 */
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { authenticateToken, createApiToken, IngestError, ingest, revokeApiToken } from "@rlhf/core/ingest";
import { cancelRun, launchRun } from "@rlhf/core/queue";
import { runs } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./fixtures/processes";

let t: TestDatabase;
let token: string;
beforeAll(async () => {
  t = await createTestDatabase();
  token = (await createApiToken(t, { name: "cluster" })).token;
});
afterAll(async () => t?.drop());

async function refused(promise: Promise<unknown>): Promise<IngestError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(IngestError);
  return error as IngestError;
}

describe("ingest", () => {
  it("creates an external run by name, then appends; a resent point replaces the old one", async () => {
    const first = await ingest(
      t,
      {
        run: { name: "trl-ppo", config: { learning_rate: 1.41e-5 }, totalSteps: 100 },
        metrics: [
          { step: 1, values: { "objective/kl": 0.5, "objective/scores": 1 } },
          { step: 2, values: { "objective/kl": 0.4 }, time: 1_767_225_600.5 },
        ],
        samples: [{ step: 2, prompt: "The movie was", response: " great", reward: 2.1 }],
        logs: [{ message: "started" }],
      },
      { token: `Bearer ${token}` },
    );
    expect(first).toMatchObject({
      name: "trl-ppo",
      status: "running",
      created: true,
      written: { metrics: 3, samples: 1, logs: 1 },
      cancelRequested: false,
    });
    const again = await ingest(
      t,
      { run: { name: "trl-ppo" }, metrics: [{ step: 2, values: { "objective/kl": 0.35 } }] },
      { token },
    );
    expect(again).toMatchObject({ runId: first.runId, created: false });

    const [run] = await t.db.select().from(runs).where(eq(runs.id, first.runId));
    expect(run).toMatchObject({ kind: "external", status: "running", step: 2, totalSteps: 100 });
    expect(run!.config).toEqual({ learning_rate: 1.41e-5 });
    const { rows } = await t.pool.query(
      "select key, step::int, value, wall_time from metrics where run_id = $1 order by key, step",
      [first.runId],
    );
    expect(rows.map((r) => [r.key, r.step, r.value])).toEqual([
      ["objective/kl", 1, 0.5],
      ["objective/kl", 2, 0.35],
      ["objective/scores", 1, 1],
    ]);

    const done = await ingest(
      t,
      { run: { id: first.runId, status: "succeeded", summary: { best: 2.1 } } },
      { token },
    );
    expect(done.status).toBe("succeeded");
    const [finished] = await t.db.select().from(runs).where(eq(runs.id, first.runId));
    expect(finished!.finishedAt).toBeInstanceOf(Date);
    expect(finished!.summary).toEqual({ best: 2.1 });
  });

  it("a client-chosen id creates the run with that id; a stop pressed on the dashboard is reported back", async () => {
    const id = "0b6f5a3e-4d1c-4c55-9a6e-2f1d8c7b9a10";
    const created = await ingest(t, { run: { id, name: "openrlhf-grpo" } }, { token });
    expect(created).toMatchObject({ runId: id, name: "openrlhf-grpo", created: true });
    expect(await cancelRun(t, id)).toMatchObject({ outcome: "requested" });
    const next = await ingest(t, { run: { id }, metrics: [{ step: 5, values: { loss: 1 } }] }, { token });
    expect(next.cancelRequested).toBe(true);
  });

  it("refuses missing, unknown and revoked tokens (401), bad payloads with their fields (400), workbench runs (409)", async () => {
    expect((await refused(ingest(t, { run: { name: "x" } }, { token: undefined }))).status).toBe(401);
    expect((await refused(ingest(t, { run: { name: "x" } }, { token: "rlhf_nope" }))).status).toBe(401);
    const other = await createApiToken(t, { name: "old" });
    await authenticateToken(t, other.token);
    expect(await revokeApiToken(t, "old")).toBe(1);
    expect((await refused(ingest(t, { run: { name: "x" } }, { token: other.token }))).status).toBe(401);

    const bad = await refused(
      ingest(
        t,
        {
          run: {},
          metrics: [{ step: -1, values: { loss: "low" } }],
          logs: [{ message: "m", level: "loud" }],
        },
        { token },
      ),
    );
    expect(bad.status).toBe(400);
    expect(bad.issues.map((i) => i.path).sort()).toEqual([
      "logs.0.level",
      "metrics.0.step",
      "metrics.0.values.loss",
      "run",
    ]);
    expect(bad.message).toMatch(/run: give the run's id or its name/);

    const internal = await launchRun(t, { kind: "pretrain", config: {} });
    const conflict = await refused(ingest(t, { run: { id: internal.id }, metrics: [] }, { token }));
    expect(conflict.status).toBe(409);
    const count = await t.pool.query("select count(*)::int as n from runs where name = 'x'");
    expect(count.rows[0].n).toBe(0);
  });
});

describe("rlhf log", () => {
  it("sends key=value metrics, a message, JSON Lines and a final status", async () => {
    const first = await runCli(t.url, [
      "log",
      "--name",
      "cli-run",
      "--step",
      "1",
      "loss=0.9",
      "reward=-0.2",
      "--message",
      "hello",
      "--json",
    ]);
    expect(first.stderr).toBe("");
    const result = JSON.parse(first.stdout);
    expect(result).toMatchObject({ name: "cli-run", created: true, written: { metrics: 2, logs: 1 } });

    const file = path.join(os.tmpdir(), `rlhf-log-${process.pid}.jsonl`);
    writeFileSync(
      file,
      [
        JSON.stringify({ step: 2, loss: 0.8, note: "ignored" }),
        JSON.stringify({ step: 3, loss: 0.7 }),
        JSON.stringify({ samples: [{ step: 3, prompt: "p", response: "r" }] }),
        "",
      ].join("\n"),
    );
    const streamed = await runCli(t.url, ["log", "--run", result.runId, "--file", file]);
    expect(streamed.stdout).toMatch(
      /updated external run cli-run .*: 2 metric values, 1 samples, 0 log lines/,
    );

    const finished = await runCli(t.url, ["log", "--run", "cli-run", "--status", "failed", "--error", "OOM"]);
    expect(finished.code).toBe(0);
    const [run] = await t.db.select().from(runs).where(eq(runs.id, result.runId));
    expect(run).toMatchObject({ status: "failed", error: "OOM", step: 3 });
    const points = await t.pool.query("select count(*)::int as n from metrics where run_id = $1", [
      result.runId,
    ]);
    expect(points.rows[0].n).toBe(4);

    const wrong = await runCli(t.url, ["log", "--name", "cli-run", "loss=abc", "--step", "1"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/"loss=abc": expected key=number/);
  });
});
