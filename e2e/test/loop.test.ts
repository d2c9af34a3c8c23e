/**
 * The whole loop as a newcomer meets it, in a real Chromium, on the quick settings:
 *
 *   `rlhf start` (README's first command, after the build) → first admin on the labeler → the demo pipeline
 *   from the dashboard → watch pretraining curves live → generate comparison tasks from the SFT checkpoint
 *   → rank them by hand in the labeler → a reward model on the human rankings together with the oracle's →
 *   PPO against it, its reward and KL charts growing live → samples → compare PPO with DPO → Ctrl-C stops
 *   everything → a second start finds all of it again.
 *
 * Nothing here uses the CLI beyond `rlhf start`: every step is a click or a key press in one of the apps.
 * The database is the test database (DATABASE_URL); everything else is what `rlhf start` brings up.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { freePort, launchChromium, recordConsoleErrors } from "@rlhf/core/testing/apps";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = path.join(REPO, "packages/trainer/bin/rlhf.mjs");
const IMAGES = path.join(REPO, "docs/images");
const HUMAN_DATASET = "loop-human";

let t: TestDatabase;
let home: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

interface Workbench {
  child: ChildProcess;
  output: () => string;
  dashboard: string;
  labeler: string;
}
let workbench: Workbench | undefined;

async function waitForOutput(wb: Pick<Workbench, "child" | "output">, pattern: RegExp, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(wb.output())) {
    if (wb.child.exitCode !== null) {
      throw new Error(`rlhf start exited (${wb.child.exitCode}) before ${pattern}:\n${wb.output()}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${wb.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** README's first command, after the install and build it does: `rlhf start`, on the test database. */
async function startWorkbench(): Promise<Workbench> {
  const [dashboardPort, labelerPort] = [await freePort(), await freePort()];
  let output = "";
  const child = spawn(
    process.execPath,
    [BIN, "start", "--dashboard-port", String(dashboardPort), "--labeler-port", String(labelerPort)],
    {
      cwd: REPO,
      env: { ...process.env, DATABASE_URL: t.url, RLHF_HOME: home, RLHF_QUIET: "" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const wb = { child, output: () => output };
  await waitForOutput(wb, /ready\. Ctrl-C stops everything/, 240_000);
  const url = (name: string) => {
    const match = new RegExp(`${name}\\s+(http://\\S+)`).exec(output);
    if (!match?.[1]) throw new Error(`rlhf start printed no ${name} URL:\n${output}`);
    return match[1];
  };
  return { ...wb, dashboard: url("dashboard"), labeler: url("labeler") };
}

/** Ctrl-C: `rlhf start` stops the worker, both apps and lets go of the database, then exits 0. */
async function stopWorkbench(wb: Workbench): Promise<number | null> {
  if (wb.child.exitCode !== null) return wb.child.exitCode;
  const exited = new Promise<number | null>((resolve) => wb.child.once("exit", (code) => resolve(code)));
  wb.child.kill("SIGINT");
  return exited;
}

async function portAnswers(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return true;
  } catch {
    return false;
  }
}

const runId = async (name: string): Promise<string> => {
  const { rows } = await t.pool.query<{ id: string }>("select id from runs where name = $1", [name]);
  if (!rows[0]) throw new Error(`no run named ${name}`);
  return rows[0].id;
};
const runStatus = async (name: string): Promise<string | undefined> => {
  const { rows } = await t.pool.query<{ status: string; error: string | null }>(
    "select status, error from runs where name = $1",
    [name],
  );
  const row = rows[0];
  if (row?.status === "failed" || row?.status === "cancelled") {
    throw new Error(`${name} ${row.status}: ${row.error ?? ""}\n${workbench?.output().slice(-4_000)}`);
  }
  return row?.status;
};
/** The run page's status badge, as the person watching it reads it. */
const badge = (p: Page) => p.locator(".run-head .status").first();
const pointsOf = async (p: Page, key: string) =>
  Number((await p.getByTestId(`chart-${key}`).getAttribute("data-points")) ?? 0);
/** Points drawn now in a metric's chart, 0 while the chart is not there yet. */
const pointsNow = async (p: Page, key: string) =>
  (await p.getByTestId(`chart-${key}`).count()) === 0 ? 0 : pointsOf(p, key);
const markDocument = (p: Page) => p.evaluate(() => Object.assign(window, { __sameDocument: true }));
const sameDocument = (p: Page) =>
  p.evaluate(() => (window as { __sameDocument?: boolean }).__sameDocument === true);
/** Picks the option of a <select> whose text matches, as a person picks by what they read. */
async function selectByText(p: Page, selector: string, pattern: RegExp) {
  const select = p.locator(selector);
  const option = select.locator("option").filter({ hasText: pattern }).first();
  await option.waitFor({ state: "attached" });
  await select.selectOption((await option.getAttribute("value")) ?? "");
}
const shot = (p: Page, name: string) => p.screenshot({ path: path.join(IMAGES, `loop-${name}.png`) });

/** Waits on the run's own page until its badge says succeeded (the page updates itself). */
async function watchUntilSucceeded(name: string, timeout: number) {
  await expect.poll(() => runStatus(name), { timeout, interval: 1_000 }).toBe("succeeded");
  await badge(page).getByText("succeeded").waitFor({ timeout: 15_000 });
}

beforeAll(async () => {
  for (const app of ["dashboard", "labeler"]) {
    if (!existsSync(path.join(REPO, "apps", app, ".next", "BUILD_ID"))) {
      throw new Error(`the ${app} is not built: run \`pnpm build\` first (pnpm test does).`);
    }
  }
  browser = await launchChromium();
  mkdirSync(IMAGES, { recursive: true });
  t = await createTestDatabase("rlhf_loop_e2e");
  home = mkdtempSync(path.join(os.tmpdir(), "rlhf-loop-"));
  context = await browser.newContext({ viewport: { width: 1360, height: 860 } });
  page = await context.newPage();
  recordConsoleErrors(page, pageErrors);
});

// A failed step leaves the page it was looking at next to the test database's name, for the person debugging.
afterEach(async (context) => {
  if (context.task.result?.state === "fail" && page) {
    const file = path.join(
      os.tmpdir(),
      `rlhf-loop-failure-${context.task.name.slice(0, 40).replace(/\W+/g, "-")}.png`,
    );
    await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
    console.log(`screenshot of the failed step: ${file}`);
  }
});

afterAll(async () => {
  await browser?.close();
  if (workbench) await stopWorkbench(workbench);
  await t?.drop();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe("the whole loop, from the apps", () => {
  it("rlhf start brings up the database, demo data, both apps and a worker, and says where to go", async () => {
    workbench = await startWorkbench();
    const out = workbench.output();
    expect(out).toContain("demo data: seeded");
    expect(out).toMatch(/worker\s+1/);
    expect(out).toContain(`create the first one at ${workbench.labeler}/setup`);
  });

  it("creates the first admin on the labeler, and is signed in on the dashboard too", async () => {
    const wb = workbench!;
    await page.goto(wb.labeler);
    await page.waitForURL(/\/setup$/);
    await page.getByLabel("Your name").fill("Grace");
    await page.getByLabel("Email").fill("grace@example.com");
    await page.getByLabel("Password (8 characters or more)").fill("grace-password-1");
    await page.getByLabel("Password again").fill("grace-password-1");
    await page.getByRole("button", { name: "Create the admin account" }).click();
    await page.waitForURL(/\/admin$/);

    // One account for both apps: the dashboard knows her without a second sign-in.
    await page.goto(`${wb.dashboard}/launch`);
    await page.locator(".user-box").getByText("Grace", { exact: true }).waitFor();
  });

  it("runs the demo pipeline from the dashboard and watches pretraining's loss curve grow live", async () => {
    const wb = workbench!;
    await page.getByRole("button", { name: "Quick version" }).click();
    await page.waitForURL(`${wb.dashboard}/`);
    const table = page.getByTestId("runs-table");
    for (const stage of ["pretrain", "sft", "generate", "reward", "ppo", "dpo"]) {
      await table.getByLabel(`Select demo-quick-${stage}`, { exact: true }).waitFor();
    }
    await page.getByTestId("pipeline-chain").first().waitFor();

    // Straight to pretraining's page, before the worker has written much: its loss curve fills in live.
    await page.goto(`${wb.dashboard}/runs/${await runId("demo-quick-pretrain")}`);
    await markDocument(page);
    const atOpen = await pointsNow(page, "loss");
    expect(atOpen).toBeLessThan(60); // 60 steps in all; the run had barely started
    await page.getByTestId("chart-loss").locator("canvas").waitFor({ timeout: 120_000 });
    await expect.poll(() => pointsNow(page, "loss"), { timeout: 180_000 }).toBe(60);
    expect(await sameDocument(page)).toBe(true); // it grew without a reload
    await badge(page).getByText("succeeded").waitFor({ timeout: 30_000 });
    await shot(page, "pretrain");

    // SFT follows on the same worker; its run page shows its checkpoint when it is done.
    await page.goto(`${wb.dashboard}/runs/${await runId("demo-quick-sft")}`);
    await watchUntilSucceeded("demo-quick-sft", 300_000);
    await page
      .getByRole("navigation", { name: "Run" })
      .getByRole("link", { name: /^checkpoints/ })
      .click();
    await page.getByTestId("checkpoints").getByRole("row").nth(1).waitFor();
  });

  it("generates comparison tasks from the SFT checkpoint into a new labeling dataset, from the labeler", async () => {
    const wb = workbench!;
    await page.goto(`${wb.labeler}/admin`);
    const form = page.locator("section", { has: page.getByText("Generate tasks from a checkpoint") });
    await selectByText(page, 'select[name="runId"]', /demo-quick-sft · sft/);
    await form.locator('select[name="prompts"]').selectOption("demo-prompts");
    await form.locator('input[name="dataset"]').fill(HUMAN_DATASET);
    await form.locator('input[name="k"]').fill("2"); // pairwise
    await form.locator('input[name="maxPrompts"]').fill("4");
    await form.getByRole("button", { name: "Queue generation" }).click();
    const queued = await form.getByRole("status").textContent({ timeout: 15_000 });
    const name = /Queued run (\S+):/.exec(queued ?? "")?.[1];
    expect(name, queued ?? "").toBeTruthy();

    // It is a run like any other: the dashboard follows it.
    await page.goto(`${wb.dashboard}/runs/${await runId(name!)}`);
    await watchUntilSucceeded(name!, 300_000);
  });

  it("ranks the new tasks by hand in the labeler, with the keyboard", async () => {
    const wb = workbench!;
    await page.goto(wb.labeler);
    const card = page.getByTestId("labeling-datasets").locator(".dataset-card", { hasText: HUMAN_DATASET });
    await card.waitFor();
    await card.getByText("4", { exact: true }).waitFor(); // 4 open for her
    await card.getByRole("link", { name: "Start ranking" }).click();
    for (let done = 1; done <= 4; done++) {
      const task = page.getByTestId("task");
      await task.waitFor();
      const taskId = await task.getAttribute("data-task-id");
      // A person reads both and picks; here: the one with more exclamation marks, else the first.
      const a = (await page.getByTestId("response-A").textContent()) ?? "";
      const b = (await page.getByTestId("response-B").textContent()) ?? "";
      const count = (s: string) => s.split("!").length;
      await page.keyboard.press(count(b) > count(a) ? "2" : "1");
      await page.keyboard.press("Enter");
      await page.getByTestId("progress").getByTestId("done-today").getByText(String(done)).waitFor();
      await page.waitForFunction(
        (id) => document.querySelector("[data-testid=task]")?.getAttribute("data-task-id") !== id,
        taskId,
      );
      if (done === 1) await shot(page, "label");
    }
    await page.getByTestId("no-task").waitFor();
    const { rows } = await t.pool.query<{ n: string }>(
      `select count(*) as n from rankings r join comparison_tasks ct on ct.id = r.task_id
         join datasets d on d.id = ct.dataset_id where d.name = $1`,
      [HUMAN_DATASET],
    );
    expect(Number(rows[0]?.n)).toBe(4);
  });

  it("trains a reward model on the human rankings together with the oracle's", async () => {
    const wb = workbench!;
    await expect.poll(() => runStatus("demo-quick-reward"), { timeout: 300_000 }).toBe("succeeded");
    await page.goto(`${wb.dashboard}/runs/${await runId("demo-quick-reward")}`);
    await page.getByRole("link", { name: "Launch again with changes" }).click();
    await page.waitForURL(/\/launch\?from=/);
    await page.locator("#run-name").fill("loop-reward");
    const datasets = page.locator("#field-datasets");
    await datasets.locator("option", { hasText: HUMAN_DATASET }).waitFor({ state: "attached" });
    await datasets.selectOption(["demo-preferences", HUMAN_DATASET]);
    await page.getByRole("button", { name: "Launch reward run" }).click();
    await page.waitForURL(/\/runs\/[\w-]+$/);
    await watchUntilSucceeded("loop-reward", 300_000);
    await expect.poll(() => pointsOf(page, "accuracy"), { timeout: 15_000 }).toBeGreaterThan(0);

    const { rows } = await t.pool.query<{ config: { datasets: string[] } }>(
      "select config from runs where name = 'loop-reward'",
    );
    expect(rows[0]?.config.datasets.sort()).toEqual(["demo-preferences", HUMAN_DATASET].sort());
    // The human rankings were read: the run logged how many pairs each dataset gave.
    const logs = await t.pool.query<{ message: string }>(
      "select message from run_logs where run_id = $1 order by id",
      [await runId("loop-reward")],
    );
    expect(logs.rows.map((r) => r.message).join("\n")).toMatch(
      new RegExp(
        `demo-preferences: \\d+ rankings \\(\\d+ by the oracle\\); ${HUMAN_DATASET}: 4 rankings \\(4 by 1 person\\)`,
      ),
    );
  });

  it("runs PPO against that reward model and watches reward and KL move live, then reads its samples", async () => {
    const wb = workbench!;
    await expect.poll(() => runStatus("demo-quick-ppo"), { timeout: 300_000 }).toMatch(/running|succeeded/);
    await page.goto(`${wb.dashboard}/runs/${await runId("demo-quick-ppo")}`);
    await page.getByRole("link", { name: "Launch again with changes" }).click();
    await page.waitForURL(/\/launch\?from=/);
    await page.locator("#run-name").fill("loop-ppo");
    await selectByText(page, "#field-rewardModel", /loop-reward · reward/);
    await page.locator("#field-iterations").fill("20");
    await page.getByRole("button", { name: "Launch ppo run" }).click();
    await page.waitForURL(/\/runs\/[\w-]+$/);
    await markDocument(page);
    const scores = page.getByTestId("chart-objective/scores");
    const atOpen = await pointsNow(page, "objective/scores");
    expect(atOpen).toBeLessThan(20); // opened before the run was through

    // Its reward and KL charts fill in as the worker writes them (charts load as they scroll into view).
    await scores.waitFor({ timeout: 300_000 });
    await scores.scrollIntoViewIfNeeded();
    await expect.poll(() => pointsNow(page, "objective/scores"), { timeout: 300_000 }).toBe(20);
    await page.getByTestId("chart-objective/kl").scrollIntoViewIfNeeded();
    await expect.poll(() => pointsNow(page, "objective/kl"), { timeout: 30_000 }).toBe(20);
    expect(await sameDocument(page)).toBe(true); // no reload: every point arrived live
    await watchUntilSucceeded("loop-ppo", 300_000);
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, "ppo");

    await page.goto(`${wb.dashboard}/runs/${await runId("loop-ppo")}?tab=samples`);
    const samples = page.getByTestId("samples-table");
    await samples.getByRole("row").nth(1).waitFor();
    expect(await samples.getByRole("row").count()).toBeGreaterThan(1);
  });

  it("serves the PPO policy from its checkpoint over the OpenAI API, then stops it", async () => {
    const wb = workbench!;
    await page.goto(`${wb.dashboard}/runs/${await runId("loop-ppo")}?tab=checkpoints`);
    const rows = page.getByTestId("checkpoints").getByRole("row");
    await rows.nth(1).waitFor();
    await rows.filter({ hasText: "final" }).getByRole("button", { name: "Serve" }).click();
    await page.waitForURL(/\/runs\/[\w-]+$/);
    const endpoint = (await page.getByTestId("serve-endpoint").textContent({ timeout: 120_000 }))!.trim();
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    await page.getByText("serving loop-ppo at step 20").waitFor();
    await shot(page, "serve");

    // The dashboard gave the run an API key, shown to the admin; without it the endpoint refuses.
    const apiKey = (await page.getByTestId("serve-api-key").textContent())!.trim();
    expect((await fetch(`${endpoint}/models`)).status).toBe(401);
    const authorization = `Bearer ${apiKey}`;
    // Any OpenAI client: the models list, then a chat completion, plain and streamed.
    const models = (await (await fetch(`${endpoint}/models`, { headers: { authorization } })).json()) as {
      data: { id: string }[];
    };
    const model = models.data[0]!.id;
    const ask = (stream: boolean) =>
      fetch(`${endpoint}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization },
        body: JSON.stringify({
          model,
          messages: [{ role: "user", content: "How was the park today?" }],
          max_tokens: 16,
          temperature: 0,
          stream,
        }),
      });
    const plain = await ask(false);
    expect(plain.status).toBe(200);
    const answer = (await plain.json()) as { choices: { message: { role: string; content: string } }[] };
    expect(answer.choices[0]!.message.role).toBe("assistant");
    expect(answer.choices[0]!.message.content.length).toBeGreaterThan(0);
    const streamed = await (await ask(true)).text();
    const deltas = streamed
      .split("\n\n")
      .filter((e) => e.startsWith("data: {"))
      .map(
        (e) =>
          (JSON.parse(e.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta
            .content ?? "",
      )
      .join("");
    expect(streamed.trim().endsWith("data: [DONE]")).toBe(true);
    expect(deltas).toBe(answer.choices[0]!.message.content); // greedy: the same text either way

    await page.getByRole("button", { name: "Stop serving" }).click();
    await page.getByRole("button", { name: "Yes, cancel it" }).click();
    await badge(page).getByText("cancelled").waitFor({ timeout: 30_000 });
    await expect
      .poll(() =>
        fetch(`${endpoint}/models`).then(
          () => "answers",
          () => "closed",
        ),
      )
      .toBe("closed");
  });

  it("compares the PPO run with the demo's DPO run", async () => {
    const wb = workbench!;
    await expect.poll(() => runStatus("demo-quick-dpo"), { timeout: 300_000 }).toBe("succeeded");
    await page.goto(wb.dashboard);
    await page.getByLabel("Select loop-ppo").check();
    await page.getByLabel("Select demo-quick-dpo").check();
    await page.getByRole("button", { name: /Compare 2 runs/ }).click();
    await page.waitForURL(/\/compare\?runs=/);
    const legend = page.getByRole("group", { name: "Runs" });
    await legend.getByRole("button", { name: "loop-ppo" }).waitFor();
    await legend.getByRole("button", { name: "demo-quick-dpo" }).waitFor();
    await page.locator("[data-testid^=chart-] canvas").first().waitFor();
    await shot(page, "compare");
    expect(pageErrors, pageErrors.join("\n")).toEqual([]);
  });

  it("Ctrl-C stops everything it started; a second start finds all the data again", async () => {
    const wb = workbench!;
    expect(await stopWorkbench(wb)).toBe(0);
    expect(wb.output()).toContain("stopped");
    expect(await portAnswers(wb.dashboard)).toBe(false);
    expect(await portAnswers(wb.labeler)).toBe(false);

    workbench = await startWorkbench();
    expect(workbench.output()).toContain("demo data: present");
    expect(workbench.output()).not.toContain("create the first one"); // the admin is still there
    await page.goto(workbench.dashboard);
    await page
      .getByTestId("runs-table")
      .getByRole("row", { name: /loop-ppo/ })
      .waitFor();
    await page.locator(".user-box").getByText("Grace", { exact: true }).waitFor();
    expect(await stopWorkbench(workbench)).toBe(0);
    workbench = undefined;
  });
});
