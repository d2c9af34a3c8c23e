/**
 * The labeler as people use it: the production build served by `next start` against a fresh database,
 * driven by a real Chromium — first start, import (with a bad line), an invitation, ranking a pairwise and
 * a K-wise task with the keyboard only, progress, undo, export and agreement. Screenshots of the main
 * screens go to docs/images/ for docs/labeling.md. `pnpm test` builds first.
 */
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createUser } from "@rlhf/core/auth";
import { nextTask, submitRanking } from "@rlhf/core/labeling";
import { datasets } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import {
  assertProductionBuild,
  expectDatabaseUnreachable,
  launchChromium,
  recordConsoleErrors,
  startNextApp,
  stopProcess,
  unreachableDatabaseUrl,
} from "@rlhf/core/testing/apps";
import { eq } from "@rlhf/core/trpc";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const APP_DIR = fileURLToPath(new URL("..", import.meta.url));
const IMAGES = path.resolve(APP_DIR, "../../docs/images");

let t: TestDatabase;
let browser: Browser;
const servers: ChildProcess[] = [];

beforeAll(async () => {
  assertProductionBuild(APP_DIR);
  browser = await launchChromium();
  t = await createTestDatabase("rlhf_labeler_e2e");
  mkdirSync(IMAGES, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(servers.map(stopProcess));
  await t?.drop();
});

const shot = (page: Page, name: string) =>
  page.screenshot({ path: path.join(IMAGES, `labeler-${name}.png`), fullPage: true });

const PAIRWISE_PROMPT = [
  "Write a **friendly** reply to a customer who waited two weeks for a refund.",
  "",
  '<img src="x" onerror="window.__injected = true"> <script>window.__injected = true</script>',
  "",
  "```python",
  "print('refund issued')",
  "```",
].join("\n");

const GOOD_FILE = [
  JSON.stringify({
    prompt: PAIRWISE_PROMPT,
    responses: [
      {
        text: "We are so sorry for the wait! Your refund was issued today; it should reach you within 3 days.",
        source: "policy-ppo",
      },
      { text: "Refunds take time. Please wait.", source: "policy-sft" },
    ],
  }),
  JSON.stringify({
    prompt: "Suggest a name for a **bakery** that only sells bread made with sourdough.",
    responses: [
      { text: "Rise & Shine Sourdough", source: "policy-ppo" },
      { text: "Bread Store", source: "policy-sft" },
      { text: "The Wild Yeast Collective", source: "gpt2-base" },
      { text: "Bakery 1", source: "policy-sft-old" },
    ],
  }),
].join("\n");

describe("the labeler, end to end", () => {
  let baseUrl: string;
  let admin: BrowserContext;
  let adminPage: Page;
  const consoleErrors: string[] = [];
  // A refused request (401/403) is logged by Chromium as a console error; the tests cause those on purpose.
  const watch = (page: Page) => recordConsoleErrors(page, consoleErrors, /status of 40[13]/);

  beforeAll(async () => {
    baseUrl = await startServer(t.url);
    admin = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    adminPage = await admin.newPage();
    watch(adminPage);
  });

  it("sends the first visitor to the first-start page, which creates the first admin", async () => {
    await adminPage.goto(baseUrl);
    await adminPage.waitForURL(/\/setup$/);
    await adminPage.getByLabel("Your name").fill("Root Admin");
    await adminPage.getByLabel("Email").fill("root@example.com");
    await adminPage.getByLabel("Password (8 characters or more)").fill("root-password-1");
    await adminPage.getByLabel("Password again").fill("root-password-1");
    await adminPage.getByRole("button", { name: "Create the admin account" }).click();
    await adminPage.waitForURL(/\/admin$/);
    await adminPage.getByTestId("signed-in-as").getByText("Root Admin").waitFor();
    // Setup is closed for good.
    const again = await fetch(`${baseUrl}/setup`, { redirect: "manual" });
    expect(again.status).toBe(307);
  });

  it("an admin imports a file with a bad line, sees which line and why, then imports a good one", async () => {
    const bad = `${GOOD_FILE}\n${JSON.stringify({ prompt: "only one", responses: ["lonely"] })}\n`;
    await adminPage
      .getByLabel("JSONL file")
      .setInputFiles({ name: "bad.jsonl", mimeType: "application/jsonl", buffer: Buffer.from(bad) });
    await adminPage.getByLabel("Dataset (new or existing)").fill("e2e-prefs");
    await adminPage.getByLabel("Rankings per task").fill("2");
    await adminPage.getByRole("button", { name: "Import" }).click();
    const error = adminPage.getByTestId("import-error");
    await error.waitFor();
    expect(await error.textContent()).toContain("line 3: responses: needs at least 2 responses to compare");
    expect(await t.db.select().from(datasets).where(eq(datasets.name, "e2e-prefs"))).toEqual([]);
    await shot(adminPage, "import-error");

    await adminPage
      .getByLabel("JSONL file")
      .setInputFiles({ name: "good.jsonl", mimeType: "application/jsonl", buffer: Buffer.from(GOOD_FILE) });
    await adminPage.getByRole("button", { name: "Import" }).click();
    await adminPage
      .getByTestId("import-ok")
      .getByText("Imported 2 tasks into e2e-prefs (new dataset).")
      .waitFor();
    await adminPage.getByTestId("overview").getByRole("link", { name: "e2e-prefs" }).waitFor();
  });

  it("an admin invites an annotator, who joins with the link and ranks a pairwise and a K-wise task with the keyboard only", async () => {
    await adminPage.goto(`${baseUrl}/admin/users`);
    await adminPage.getByLabel("Email").fill("ann@example.com");
    await adminPage.getByRole("button", { name: "Create invitation link" }).click();
    const link = await adminPage.getByTestId("invite-link").inputValue();
    expect(link).toMatch(/\/invite\/[\w-]{20,}$/);

    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    watch(page);
    await page.goto(link);
    await page.getByLabel("Your name").fill("Ann");
    await page.getByLabel("Password (8 characters or more)").fill("ann-password");
    await page.getByRole("button", { name: "Create my account" }).click();
    await page.waitForURL(`${baseUrl}/`);
    await page.getByTestId("labeling-datasets").getByText("e2e-prefs").waitFor();
    await shot(page, "home");
    await page.getByRole("link", { name: "Start ranking" }).click();

    const progress = page.getByTestId("progress");
    await page.getByTestId("task").waitFor();
    await progress.getByTestId("done-today").getByText("0").waitFor();
    for (let done = 1; done <= 2; done++) {
      const task = page.getByTestId("task");
      await task.waitFor();
      const taskId = await task.getAttribute("data-task-id");
      if (await page.getByTestId("response-A").count()) {
        // Pairwise: the prompt's HTML is shown as text, never run; its code block is a code block.
        expect(await page.evaluate(() => (window as { __injected?: boolean }).__injected)).toBeUndefined();
        expect(await page.locator(".prompt-card img").count()).toBe(0);
        expect(await page.locator(".prompt-card pre code").textContent()).toContain("print('refund issued')");
        await page.keyboard.press("1"); // A is better
        await page.keyboard.press("m"); // slightly
        await page.keyboard.press("m"); // much
        await page.keyboard.press("f"); // flag...
        await page.keyboard.press("b"); // ...response B...
        await page.keyboard.press("4"); // ...as failing the task
        await page.keyboard.press("n"); // write a note
        await page.keyboard.type("A apologises and gives a date.");
        await page.keyboard.press("Escape");
        await shot(page, "pairwise");
        await page.keyboard.press("Enter");
      } else {
        // K-wise: Enter on the untouched order warns first.
        await page.keyboard.press("Enter");
        await page
          .getByTestId("warning")
          .getByText(/not changed the order/)
          .waitFor();
        await page.keyboard.press("3"); // select response 3
        await page.keyboard.press("Shift+ArrowUp"); // move it up twice: first place
        await page.keyboard.press("Shift+ArrowUp");
        await page.keyboard.press("ArrowDown"); // select the one now second
        await page.keyboard.press("ArrowDown"); // and the third
        await page.keyboard.press("t"); // tie it with the second
        await page.getByTestId("ranking").locator(".rank-item--tied").waitFor();
        await shot(page, "kwise");
        await page.keyboard.press("Enter");
      }
      await page.getByTestId("undo-bar").waitFor();
      await progress.getByTestId("done-today").getByText(String(done)).waitFor();
      // The next task (or none) replaced this one.
      await page.waitForFunction(
        (id) => document.querySelector("[data-testid=task]")?.getAttribute("data-task-id") !== id,
        taskId,
      );
    }
    await page.getByTestId("no-task").waitFor();
    expect(await progress.getByTestId("queue-left").textContent()).toBe("0");

    // U takes the last answer back: the task returns and the progress goes back.
    await page.keyboard.press("u");
    await page.getByTestId("task").waitFor();
    await progress.getByTestId("done-today").getByText("1").waitFor();
    const restored = await page.getByTestId("task").getAttribute("data-task-id");
    await page.keyboard.press("Enter");
    if ((await page.getByTestId("warning").count()) > 0) await page.keyboard.press("Enter");
    await page.getByTestId("no-task").waitFor();
    await progress.getByTestId("done-today").getByText("2").waitFor();

    const stored = await t.pool.query(
      "select r.ranking, r.strength, r.flags, r.note, r.time_ms from rankings r join users u on u.id = r.annotator_id where u.email = 'ann@example.com' order by jsonb_array_length(r.ranking)",
    );
    expect(stored.rows).toHaveLength(2);
    const pair = stored.rows.find((r) => r.strength !== null);
    expect(pair).toMatchObject({ strength: 2, note: "A apologises and gives a date." });
    expect(Object.values(pair.flags)).toEqual([["fails_task"]]);
    const kwise = stored.rows.find((r) => r.strength === null);
    expect(kwise.ranking.map((g: string[]) => g.length)).toEqual([1, 2, 1]);
    expect(restored).toBeTruthy();

    // An annotator reaches no admin page, endpoint or export.
    await page.goto(`${baseUrl}/admin`);
    await page.waitForURL(`${baseUrl}/`);
    const refused = await page.request.get(`${baseUrl}/api/trpc/admin.overview`);
    expect(refused.status()).toBe(403);
    expect((await page.request.get(`${baseUrl}/api/export?dataset=e2e-prefs&format=trl`)).status()).toBe(403);
    await context.close();
  });

  it("an anonymous client is sent to sign in and refused by the endpoints", async () => {
    const anonymous = await fetch(`${baseUrl}/admin`, { redirect: "manual" });
    expect(anonymous.status).toBe(307);
    expect(anonymous.headers.get("location")).toContain("/login?next=%2Fadmin");
    expect((await fetch(`${baseUrl}/api/trpc/admin.overview`)).status).toBe(401);
    expect((await fetch(`${baseUrl}/api/trpc/labeling.mine`)).status).toBe(401);
    expect((await fetch(`${baseUrl}/api/export?dataset=e2e-prefs&format=trl`)).status).toBe(401);
  });

  it("an admin exports TRL pairs and full rankings, and sees agreement and the model leaderboard", async () => {
    // A second annotator ranks the same tasks (agreeing on the pair, not entirely on the four).
    const bo = await createUser(t.db, { email: "bo@example.com", name: "Bo", password: "bo-password" });
    const [dataset] = await t.db.select().from(datasets).where(eq(datasets.name, "e2e-prefs"));
    for (;;) {
      const task = await nextTask(t.db, { annotatorId: bo.id, datasetId: dataset!.id });
      if (!task) break;
      const { rows } = await t.pool.query(
        "select c.id from task_completions tc join completions c on c.id = tc.completion_id where tc.task_id = $1 order by c.source desc",
        [task.taskId],
      );
      await submitRanking(t.db, bo.id, {
        taskId: task.taskId,
        ranking: rows.map((r: { id: string }) => [r.id]),
        timeMs: 9000,
        idempotencyKey: randomUUID(),
      });
    }

    const exported = await adminPage.request.get(`${baseUrl}/api/export?dataset=e2e-prefs&format=trl`);
    expect(exported.status()).toBe(200);
    expect(exported.headers()["content-disposition"]).toContain("e2e-prefs.trl.jsonl");
    const pairs = (await exported.text())
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(pairs.length).toBeGreaterThanOrEqual(2 * 1 + 5 + 6 - 1);
    expect(Object.keys(pairs[0]).sort()).toEqual(["chosen", "prompt", "rejected"]);
    const full = await adminPage.request.get(`${baseUrl}/api/export?dataset=e2e-prefs&format=rankings`);
    const rows = (await full.text())
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(
      rows.flatMap((r) => r.rankings.map((x: { annotator_email: string }) => x.annotator_email)).sort(),
    ).toEqual(["ann@example.com", "ann@example.com", "bo@example.com", "bo@example.com"]);

    await adminPage.goto(`${baseUrl}/admin`);
    await shot(adminPage, "admin");
    await adminPage.getByTestId("overview").getByRole("link", { name: "e2e-prefs" }).click();
    const agreement = adminPage.getByTestId("agreement");
    await agreement.waitFor();
    expect(await agreement.getByTestId("pairwise-agreement").textContent()).toMatch(/^\d+\.\d%$/);
    expect(await agreement.getByTestId("alpha").textContent()).toMatch(/^-?\d\.\d{3}$/);
    await adminPage.getByTestId("leaderboard").getByText("policy-ppo").waitFor();
    await adminPage.getByTestId("annotators").getByText("bo@example.com").waitFor();
    await shot(adminPage, "dataset");
    expect(consoleErrors, consoleErrors.join("\n")).toEqual([]);
  });
});

describe("the labeler without a database", () => {
  it("says the database is unreachable and what to check", async () => {
    await expectDatabaseUnreachable(browser, await startServer(await unreachableDatabaseUrl()));
  });
});

/** `next start` of the labeler on a free port with the given database, stopped after the tests. */
async function startServer(databaseUrl: string): Promise<string> {
  const { baseUrl, server } = await startNextApp({
    appDir: APP_DIR,
    env: { DATABASE_URL: databaseUrl, BETTER_AUTH_SECRET: "e2e-secret-e2e-secret-e2e-secret-e2e" },
  });
  servers.push(server);
  return baseUrl;
}
