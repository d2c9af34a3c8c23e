/**
 * Serving from the dashboard, in a real Chromium against the production build: an admin clicks Serve next
 * to a checkpoint of a real (tiny, trained here) run, a real worker serves it, the serve run's page shows
 * the endpoint and the client examples, the endpoint answers, and Stop serving ends it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { createUser } from "@rlhf/core/auth";
import { seedDemo } from "@rlhf/core/demo";
import { checkpoints, runs } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { asc, eq } from "@rlhf/core/trpc";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, openPage, REPO, startServer, stopProcess } from "./fixtures/app";

const AUTH_SECRET = randomBytes(32).toString("base64url");
const home = mkdtempSync(path.join(os.tmpdir(), "rlhf-dashboard-serve-"));
const TRAINER = path.join(REPO, "packages/trainer");
const TSX = createRequire(path.join(TRAINER, "package.json")).resolve("tsx");
let t: TestDatabase;
let browser: Browser;
const children: ChildProcess[] = [];

/** `rlhf <args>` (packages/trainer) on the test database, with the test's workbench home. */
function rlhf(args: string[], stdio: "ignore" | "pipe" = "ignore"): ChildProcess {
  const child = spawn(process.execPath, ["--import", TSX, path.join(TRAINER, "src/cli/main.ts"), ...args], {
    env: { ...process.env, DATABASE_URL: t.url, RLHF_HOME: home, RLHF_QUIET: "1" },
    stdio: ["ignore", stdio, stdio],
    detached: true,
  });
  children.push(child);
  return child;
}

beforeAll(async () => {
  t = await createTestDatabase("rlhf_dashboard_serve");
  browser = await launchChromium();
  await seedDemo(t.db, { corpusSize: 200, sftSize: 50 });
  await createUser(t.db, {
    email: "ada@example.com",
    name: "Ada",
    password: "correct horse battery",
    role: "admin",
  });
  // A real policy with real checkpoints: a tiny pretraining run, trained here and now.
  const config = path.join(home, "tiny.json");
  writeFileSync(
    config,
    JSON.stringify({
      model: { preset: "tiny", nLayer: 1, nEmbd: 32, nHead: 2 },
      maxSteps: 10,
      batchSize: 2,
      blockSize: 16,
      checkpointEvery: 5,
      evalEvery: 5,
      tokenizer: { vocabSize: 300 },
      backend: "wasm",
    }),
  );
  const train = rlhf(["train", "pretrain", "--config", config, "--name", "tiny-policy"], "pipe");
  let output = "";
  train.stdout!.on("data", (c) => (output += c));
  train.stderr!.on("data", (c) => (output += c));
  const code = await new Promise((resolve) => train.once("exit", resolve));
  if (code !== 0) throw new Error(`rlhf train pretrain exited with ${code}:\n${output}`);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(children.map(stopProcess));
  await t?.drop();
  rmSync(home, { recursive: true, force: true });
});

describe("serving from the dashboard", () => {
  it("Serve on a checkpoint → a serve run with its endpoint and examples → Stop serving", async () => {
    const [policy] = await t.db.select().from(runs).where(eq(runs.name, "tiny-policy"));
    expect(policy?.status).toBe("succeeded");
    const saved = await t.db
      .select()
      .from(checkpoints)
      .where(eq(checkpoints.runId, policy!.id))
      .orderBy(asc(checkpoints.step));
    expect(saved.map((c) => c.step)).toContain(5);

    const { baseUrl, server } = await startServer(t.url, AUTH_SECRET);
    children.push(server);
    rlhf(["worker", "--id", "serve-ui-worker", "--poll", "300"]);
    const context = await browser.newContext();
    const { page, errors } = await openPage(context);
    await page.goto(`${baseUrl}/login?next=/runs/${policy!.id}?tab=checkpoints`);
    await page.getByLabel("Email").fill("ada@example.com");
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${baseUrl}/runs/${policy!.id}?tab=checkpoints`);

    // Serve the step-5 checkpoint: a serve run is launched and its page opens.
    const row = page.getByTestId("checkpoints").getByRole("row").filter({ hasText: saved[0]!.path });
    await row.getByRole("button", { name: "Serve" }).click();
    await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
    const serveRunId = page.url().split("/").at(-1)!;
    expect(serveRunId).not.toBe(policy!.id);
    const [serveRun] = await t.db.select().from(runs).where(eq(runs.id, serveRunId));
    expect(serveRun).toMatchObject({ kind: "serve", config: { checkpoint: `run:${policy!.id}`, step: 5 } });

    // The worker serves it; the page shows where, and how to call it.
    const endpointText = page.getByTestId("serve-endpoint");
    await endpointText.waitFor({ timeout: 120_000 });
    const endpoint = (await endpointText.textContent())!;
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(await page.getByTestId("serve-example-curl").textContent()).toContain(
      `curl ${endpoint}/chat/completions`,
    );
    await page.getByRole("tab", { name: "Python (openai)" }).click();
    const python = (await page.getByTestId("serve-example-python").textContent())!;
    expect(python).toContain(`OpenAI(base_url="${endpoint}"`);
    expect(python).toContain('model="tiny-policy"');
    // A serve run launched from the dashboard has its own API key, shown to the admin.
    const apiKey = (await page.getByTestId("serve-api-key").textContent())!.trim();
    expect((await fetch(`${endpoint}/models`)).status).toBe(401);
    const authorization = `Bearer ${apiKey}`;
    const models = (await (await fetch(`${endpoint}/models`, { headers: { authorization } })).json()) as {
      data: { id: string }[];
    };
    expect(models.data.map((m) => m.id)).toEqual(["tiny-policy"]);

    // Stop serving: the run's cancel.
    await page.getByRole("button", { name: "Stop serving" }).click();
    await page.getByRole("button", { name: "Yes, cancel it" }).click();
    await expect
      .poll(async () => (await t.db.select().from(runs).where(eq(runs.id, serveRunId)))[0]?.status, {
        timeout: 30_000,
      })
      .toBe("cancelled");
    await expect(fetch(`${endpoint}/models`)).rejects.toThrow();
    expect(errors).toEqual([]);
    await context.close();
  });
});
