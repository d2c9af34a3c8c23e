/**
 * The labeler's production build probed with every kind of bad input in ./probes.ts (as `rlhf start` serves
 * it, with the client-address preload): each must get its status and words, no answer may show SQL or
 * another task's contents, and the list in docs/reliability.md is checked against the same table.
 */
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createUser, issueSessionCookie } from "@rlhf/core/auth";
import { importJsonl, nextTask } from "@rlhf/core/labeling";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { assertProductionBuild, startNextApp, stopProcess } from "@rlhf/core/testing/apps";
import { describeFailures, probeDocDrift, runProbes } from "@rlhf/core/testing/probes";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LabelerProbeContext, labelerProbes, rotatingAddressProbe, signInProbes } from "./probes";

const APP_DIR = fileURLToPath(new URL("..", import.meta.url));
const SECRET = "probe-secret-probe-secret-probe-secret";

let t: TestDatabase;
let server: ChildProcess | undefined;
let baseUrl: string;
let context: LabelerProbeContext;

beforeAll(async () => {
  assertProductionBuild(APP_DIR);
  t = await createTestDatabase("rlhf_labeler_probe");
  const admin = await createUser(t.db, {
    email: "root@example.com",
    name: "Root",
    password: "root-password",
    role: "admin",
  });
  const ann = await createUser(t.db, { email: "ann@example.com", name: "Ann", password: "ann-password" });
  const bo = await createUser(t.db, { email: "bo@example.com", name: "Bo", password: "bo-password" });
  const lines = [
    { prompt: "Which is kinder?", responses: ["Thanks!", "Whatever."] },
    { prompt: "Which is shorter?", responses: ["Yes.", "Yes, certainly, of course."] },
  ];
  const imported = await importJsonl(t.db, {
    dataset: "probe-prefs",
    text: lines.map((l) => JSON.stringify(l)).join("\n"),
    seed: 1,
  });
  const held = (await nextTask(t.db, { annotatorId: ann.id, datasetId: imported.datasetId }))!;
  const { rows } = await t.pool.query(
    "select completion_id from task_completions where task_id <> $1 limit 1",
    [held.taskId],
  );
  const cookie = (id: string) => issueSessionCookie(t.db, id, { secret: SECRET });
  context = {
    admin: await cookie(admin.id),
    ann: await cookie(ann.id),
    bo: await cookie(bo.id),
    datasetId: imported.datasetId,
    taskId: held.taskId,
    completionIds: held.completions.map((c) => c.id) as [string, string],
    foreignCompletionId: rows[0].completion_id,
  };
  ({ baseUrl, server } = await startNextApp({
    appDir: APP_DIR,
    env: { DATABASE_URL: t.url, BETTER_AUTH_SECRET: SECRET },
  }));
}, 120_000);

afterAll(async () => {
  if (server) await stopProcess(server);
  await t?.drop();
});

describe("the labeler under bad input", () => {
  it("answers every kind of bad request with its status and words, showing no SQL and no one else's task", async () => {
    const failed = await runProbes(baseUrl, labelerProbes(context));
    expect(failed, describeFailures(failed)).toEqual([]);
    // Nothing was stored by any of it: the held task has no answer, no import left a dataset behind.
    const { rows } = await t.pool.query(
      "select (select count(*)::int from rankings) as rankings, (select count(*)::int from datasets) as datasets",
    );
    expect(rows[0]).toEqual({ rankings: 0, datasets: 1 });
  });

  it("limits sign-ins per connection, whatever X-Forwarded-For claims", async () => {
    const failed = await runProbes(baseUrl, signInProbes(), 1);
    expect(failed, describeFailures(failed)).toEqual([]);
    // Those three filled this address's bucket (3 per 10 s); wait it out, then rotate the header.
    await new Promise((resolve) => setTimeout(resolve, 10_500));
    const limited = await runProbes(baseUrl, [rotatingAddressProbe], 1);
    expect(limited, describeFailures(limited)).toEqual([]);
  }, 30_000);

  it("is listed in docs/reliability.md as the table says", () => {
    const probes = [...labelerProbes(context), ...signInProbes(), rotatingAddressProbe];
    expect(probeDocDrift("labeler", probes)).toBeUndefined();
  });
});
