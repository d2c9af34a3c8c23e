/**
 * The dashboard's production build probed with every kind of bad input in ./probes.ts (served as
 * `rlhf start` serves it): each must get its status and words, no answer may show SQL, and strangers see no
 * hosts, paths, emails or keys. A second server, told it listens beyond its machine, refuses strangers
 * altogether. The list in docs/reliability.md is checked against the same tables.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createUser, issueSessionCookie } from "@rlhf/core/auth";
import { createApiToken, revokeApiToken } from "@rlhf/core/ingest";
import { checkpoints, datasets, runLogs, runs } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { assertProductionBuild, startNextApp, stopProcess } from "@rlhf/core/testing/apps";
import { describeFailures, probeDocDrift, runProbes } from "@rlhf/core/testing/probes";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DashboardProbeContext, dashboardProbes, exposedProbes } from "./probes";

const APP_DIR = fileURLToPath(new URL("..", import.meta.url));
const SECRET = "probe-secret-probe-secret-probe-secret";

let t: TestDatabase;
const servers: ChildProcess[] = [];
let context: DashboardProbeContext;
let home: string;

async function serve(extra: Record<string, string> = {}): Promise<string> {
  const { baseUrl, server } = await startNextApp({
    appDir: APP_DIR,
    env: { DATABASE_URL: t.url, BETTER_AUTH_SECRET: SECRET, RLHF_HOME: home, ...extra },
  });
  servers.push(server);
  return baseUrl;
}

beforeAll(async () => {
  assertProductionBuild(APP_DIR);
  t = await createTestDatabase("rlhf_dashboard_probe");
  home = await mkdtemp(path.join(tmpdir(), "rlhf-probe-"));
  const checkpointDir = path.join(home, "artifacts", "probe-sft", "step-000007");
  await import("node:fs/promises").then((fs) => fs.mkdir(checkpointDir, { recursive: true }));
  await writeFile(path.join(checkpointDir, "config.json"), "{}");
  const admin = await createUser(t.db, {
    email: "admin@example.com",
    name: "Admin",
    password: "admin-password",
    role: "admin",
  });
  const annotator = await createUser(t.db, {
    email: "ann@example.com",
    name: "Ann",
    password: "ann-password",
  });
  const workerHost = "gpu-box-probe.lab.internal";
  const apiKey = "rlhf-serve-probe-key-0123456789abcdef";
  const [run] = await t.db
    .insert(runs)
    .values({
      name: "probe-sft",
      kind: "sft",
      status: "succeeded",
      workerHost,
      workerId: `${workerHost}:77`,
      config: { apiKey, checkpoint: checkpointDir },
      summary: { checkpoint: checkpointDir },
    })
    .returning();
  const [checkpoint] = await t.db
    .insert(checkpoints)
    .values({ runId: run!.id, step: 7, path: checkpointDir })
    .returning();
  await t.db
    .insert(runLogs)
    .values({ runId: run!.id, level: "info", message: `saved ${checkpointDir} on ${workerHost}` });
  await t.db
    .insert(datasets)
    .values({ name: "probe-text", kind: "text", description: "imported by admin@example.com" });
  const token = (await createApiToken(t, { name: "probe" })).token;
  const revoked = (await createApiToken(t, { name: "old" })).token;
  await revokeApiToken(t, "old");
  const cookie = (id: string) => issueSessionCookie(t.db, id, { secret: SECRET });
  context = {
    admin: await cookie(admin.id),
    annotator: await cookie(annotator.id),
    token,
    revoked,
    runId: run!.id,
    checkpointId: checkpoint!.id,
    checkpointDir,
    workerHost,
    apiKey,
  };
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map(stopProcess));
  await t?.drop();
  if (home) await rm(home, { recursive: true, force: true });
});

describe("the dashboard under bad input", () => {
  it("answers every kind of bad request with its status and words; strangers see no host, path, email or key", async () => {
    const baseUrl = await serve();
    const failed = await runProbes(baseUrl, dashboardProbes(context));
    expect(failed, describeFailures(failed)).toEqual([]);
    // Nothing was written by any of it: no run, metric or dataset beyond the fixture's.
    const { rows } = await t.pool.query(`select (select count(*)::int from runs) as runs,
      (select count(*)::int from metrics) as metrics, (select count(*)::int from datasets) as datasets`);
    expect(rows[0]).toEqual({ runs: 1, metrics: 0, datasets: 1 });
  }, 120_000);

  it("listening beyond its machine, refuses strangers unless public reading is on", async () => {
    const exposed = await serve({ RLHF_HOST: "0.0.0.0" });
    const failed = await runProbes(exposed, exposedProbes(context));
    expect(failed, describeFailures(failed)).toEqual([]);
    const open = await serve({ RLHF_HOST: "0.0.0.0", RLHF_PUBLIC_READ: "1" });
    const list = await fetch(`${open}/api/trpc/runs.list`);
    expect(list.status).toBe(200);
    expect(await list.text()).not.toContain(context.workerHost);
  }, 120_000);

  it("is listed in docs/reliability.md as the table says", () => {
    expect(
      probeDocDrift("dashboard", [...dashboardProbes(context), ...exposedProbes(context)]),
    ).toBeUndefined();
  });
});
