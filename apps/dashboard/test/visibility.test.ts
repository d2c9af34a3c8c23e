/**
 * Who sees what on the dashboard: people who are not signed in never see email addresses, absolute paths,
 * host names or API keys; signed-in annotators see paths but not serve keys; admins see everything. A
 * serve run launched from the dashboard gets a generated API key.
 */

import { checkpoints, datasets, runLogs, runs } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { createCallerFactory, createInnerContext, type Session } from "@rlhf/core/trpc";
import { readingNeedsAccount } from "@rlhf/ui/env";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRouter } from "~/server/api/root";
import { scrubText } from "~/server/api/scrub";

let t: TestDatabase;
const createCaller = createCallerFactory(appRouter);
const as = (session: Session | null) => createCaller(createInnerContext({ database: t, session }));
const admin: Session = { user: { id: "ada", name: "Ada", email: "ada@example.com", role: "admin" } };
const annotator: Session = { user: { id: "ann", name: "Ann", email: "ann@example.com", role: "annotator" } };

const HOST = "gpu-box-7.lab.internal";
const DIR = "/home/researcher/.rlhf/artifacts/0b5c/step-000020";
const KEY = "rlhf-serve-0123456789abcdefghij";
let runId: string;

beforeAll(async () => {
  t = await createTestDatabase("rlhf_dashboard_visibility");
  const [run] = await t.db
    .insert(runs)
    .values({
      name: "served",
      kind: "serve",
      status: "running",
      workerId: `${HOST}:4242`,
      workerHost: HOST,
      config: { checkpoint: DIR, apiKey: KEY, host: "0.0.0.0" },
      summary: { endpoint: `http://${HOST}:8123/v1`, checkpoint: DIR, model: "served" },
      error: `could not read ${DIR}/model.safetensors on ${HOST}`,
    })
    .returning();
  runId = run!.id;
  await t.db.insert(checkpoints).values({ runId, step: 20, path: DIR, isFinal: true });
  await t.db.insert(runLogs).values({
    runId,
    level: "info",
    message: `serving served at http://${HOST}:8123/v1 (checkpoint ${DIR}) until cancelled`,
  });
  await t.db.insert(datasets).values({
    name: "prefs-v",
    kind: "preferences",
    description: "imported in the dashboard by boss@corp.example",
  });
});
afterAll(async () => {
  await t?.drop();
});

describe("what each reader sees", () => {
  it("strangers: no host, no absolute path, no email, no API key — in the run, its checkpoints, logs and data", async () => {
    const anonymous = as(null);
    const answers = [
      await anonymous.runs.detail({ id: runId }),
      await anonymous.runs.list(),
      await anonymous.runs.configs({ ids: [runId] }),
      await anonymous.runs.logs({ runId }),
      await anonymous.data.overview(),
      await anonymous.launch.options(),
    ];
    const text = JSON.stringify(answers);
    for (const secret of [
      HOST,
      "/home/researcher",
      ".rlhf/artifacts",
      KEY,
      "boss@corp.example",
      "ada@example.com",
    ]) {
      expect(text, secret).not.toContain(secret);
    }
    const detail = answers[0] as Awaited<ReturnType<typeof anonymous.runs.detail>>;
    expect(detail.run.summary.checkpoint).toBe("…/step-000020");
    expect(detail.run.workerHost).toBe("(hidden)");
    expect(detail.checkpoints[0]!.path).toBe("…/step-000020");
    expect(detail.run.config.apiKey).toBe("(hidden)");
    // What is not secret stays: the run's name, status, model and step.
    expect(detail.run).toMatchObject({ name: "served", status: "running", summary: { model: "served" } });
  });

  it("annotators see paths and hosts but not the serve key; admins see the key", async () => {
    const seen = await as(annotator).runs.detail({ id: runId });
    expect(seen.run.summary.checkpoint).toBe(DIR);
    expect(seen.run.workerHost).toBe(HOST);
    expect(seen.run.config.apiKey).toBe("(hidden)");
    expect(JSON.stringify(await as(annotator).runs.configs({ ids: [runId] }))).not.toContain(KEY);
    expect((await as(admin).runs.detail({ id: runId })).run.config.apiKey).toBe(KEY);
  });

  it("a serve run launched from the dashboard answers only with its generated key", async () => {
    const [source] = await t.db
      .insert(runs)
      .values({ name: "policy", kind: "ppo", status: "succeeded", config: {} })
      .returning();
    const launched = await as(admin).launch.run({
      kind: "serve",
      config: { checkpoint: `run:${source!.id}` },
    });
    expect(launched.ok).toBe(true);
    const detail = await as(admin).runs.detail({ id: (launched as { run: { id: string } }).run.id });
    expect(detail.run.config.apiKey).toMatch(/^rlhf-serve-[\w-]{32}$/);
    expect(detail.run.config.corsOrigins).toEqual([]);
  });

  it("scrubs paths but leaves URLs and metric keys alone", () => {
    expect(scrubText("saved to /tmp/x/y/step-3 ok", [])).toBe("saved to …/step-3 ok");
    expect(scrubText("http://127.0.0.1:8000/v1/chat and objective/kl", [])).toBe(
      "http://127.0.0.1:8000/v1/chat and objective/kl",
    );
    expect(scrubText("mail a.b+c@x.io", [])).toBe("mail (email hidden)");
  });

  it("reading needs an account when the app listens beyond this machine, unless public reading is on", () => {
    expect(readingNeedsAccount({ RLHF_HOST: undefined, RLHF_PUBLIC_READ: false })).toBe(false);
    expect(readingNeedsAccount({ RLHF_HOST: "127.0.0.1", RLHF_PUBLIC_READ: false })).toBe(false);
    expect(readingNeedsAccount({ RLHF_HOST: "::1", RLHF_PUBLIC_READ: false })).toBe(false);
    expect(readingNeedsAccount({ RLHF_HOST: "0.0.0.0", RLHF_PUBLIC_READ: false })).toBe(true);
    expect(readingNeedsAccount({ RLHF_HOST: "192.168.1.20", RLHF_PUBLIC_READ: false })).toBe(true);
    expect(readingNeedsAccount({ RLHF_HOST: "0.0.0.0", RLHF_PUBLIC_READ: true })).toBe(false);
  });
});
