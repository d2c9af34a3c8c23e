/**
 * The dashboard as a person sees it: the production build served by `next start` against a fresh
 * database, driven by a real Chromium, with a real worker for the runs launched from the browser.
 * `pnpm test` builds first. Screenshots go to docs/images/ (the dashboard guide shows them).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { createUser } from "@rlhf/core/auth";
import { seedDemo } from "@rlhf/core/demo";
import { cancelRun } from "@rlhf/core/queue";
import { runLogs, runs } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { expectDatabaseUnreachable, unreachableDatabaseUrl } from "@rlhf/core/testing/apps";
import { eq, inArray } from "@rlhf/core/trpc";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  IMAGES,
  launchChromium,
  openPage,
  REPO,
  startServer as startAppServer,
  stopProcess,
} from "./fixtures/app";
import { type SeededPipeline, seedPipeline, seedPreferences, writeSeries } from "./fixtures/seed";

// The server signs its session cookies with it (fixed, so a restart keeps sessions).
const AUTH_SECRET = randomBytes(32).toString("base64url");
process.env.BETTER_AUTH_SECRET = AUTH_SECRET;

let t: TestDatabase;
let browser: Browser;
const children: ChildProcess[] = [];

beforeAll(async () => {
  t = await createTestDatabase("rlhf_dashboard_e2e");
  mkdirSync(IMAGES, { recursive: true });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(children.map(stopProcess));
  await t?.drop();
});

/** `sameDocument()` tells whether a page was reloaded since `markDocument()`. */
const markDocument = (page: Page) => page.evaluate(() => Object.assign(window, { __sameDocument: true }));
const sameDocument = (page: Page) =>
  page.evaluate(() => (window as { __sameDocument?: boolean }).__sameDocument === true);
/** Scroll through the page so that every chart loads (charts load as they come near the viewport). */
async function loadAllCharts(page: Page) {
  for (let y = 0; y < 20_000; y += 600) {
    const done = await page.evaluate((top) => {
      window.scrollTo(0, top);
      return top + window.innerHeight >= document.body.scrollHeight;
    }, y);
    if (done) break;
    await page.waitForTimeout(50);
  }
  await expect.poll(() => page.getByText("Loading…").count(), { timeout: 15_000 }).toBe(0);
  await page.evaluate(() => window.scrollTo(0, 0));
}
const pointsOf = async (page: Page, key: string) =>
  Number(await page.getByTestId(`chart-${key}`).getAttribute("data-points"));

describe("dashboard", () => {
  let baseUrl: string;
  let seeded: SeededPipeline;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    await seedDemo(t.db, { corpusSize: 200, sftSize: 50 });
    seeded = await seedPipeline(t);
    await seedPreferences(t);
    baseUrl = await startServer(t.url);
    ({ page, errors } = await openPage(browser));
  });

  it("lists the runs with status, key metrics, parents and the pipeline's chain, and shows a new run without a reload", async () => {
    await page.goto(baseUrl);
    const table = page.getByTestId("runs-table");
    const ppo = table.getByRole("row", { name: /demo-ppo/ });
    await ppo.waitFor();
    const cells = await ppo.getByRole("cell").allInnerTexts();
    expect(cells.slice(2, 6)).toEqual(["ppo", "running", "24 / 40", "wasm"]);
    expect(cells.join(" ")).toContain("demo-sft"); // its parent
    await expect.poll(() => page.getByTestId("pipeline-chain").first().getByRole("link").count()).toBe(5);

    await markDocument(page);
    await t.db.insert(runs).values({ name: "fresh-sft", kind: "sft", status: "queued", config: {} });
    await table.getByRole("row", { name: /fresh-sft/ }).waitFor({ timeout: 10_000 });
    expect(await sameDocument(page)).toBe(true);

    // Search and filter.
    await page.getByLabel("Search runs").fill("reward");
    await expect.poll(() => table.getByRole("row").count()).toBe(2); // header + demo-reward
    await page.getByLabel("Search runs").fill("");
    await page.getByRole("button", { name: "running", exact: true }).click();
    await expect.poll(() => table.getByRole("row").count()).toBe(2);
    await page.getByRole("button", { name: "running", exact: true }).click();
    await expect.poll(() => table.getByRole("row").count()).toBe(7);

    await page.screenshot({ path: path.join(IMAGES, "dashboard-runs.png") });
  });

  it("draws a running run's curves and adds new points without a reload", async () => {
    await page.goto(`${baseUrl}/runs/${seeded.ppo}`);
    await page.getByTestId("progress").getByText("24").first().waitFor();
    const chart = page.getByTestId("chart-objective/scores");
    await chart.locator("canvas").waitFor();
    await expect.poll(() => pointsOf(page, "objective/scores")).toBe(24);
    // Every namespace has its group.
    for (const ns of ["objective", "policy", "loss", "val", "perf"]) {
      await page.locator("summary", { hasText: ns }).first().waitFor();
    }

    await markDocument(page);
    const steps = [25, 26, 27, 28, 29, 30];
    await writeSeries(t.pool, seeded.ppo, "objective/scores", steps, [1.2, 1.25, 1.3, 1.28, 1.35, 1.4]);
    await expect.poll(() => pointsOf(page, "objective/scores"), { timeout: 5_000 }).toBe(30);
    expect(await sameDocument(page)).toBe(true);

    // Hover: each run's value at that x.
    await chart.scrollIntoViewIfNeeded();
    const box = (await chart.locator(".u-over").boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
    const tooltip = chart.locator(".chart-tooltip");
    await tooltip.waitFor();
    expect(await tooltip.textContent()).toMatch(/step \d+[\s\S]*demo-ppo @\d+/);

    // Log scale and x as wall time keep the chart.
    await page.getByLabel("Log y").check();
    await page.getByRole("button", { name: "Wall", exact: true }).click();
    await chart.locator("canvas").waitFor();
    await page.getByLabel("Log y").uncheck();
    await page.getByRole("button", { name: "Step", exact: true }).click();
    await page.mouse.move(0, 0);
    await loadAllCharts(page);
    await page.screenshot({ path: path.join(IMAGES, "dashboard-run.png"), fullPage: true });
  });

  it("zooms into a step range by dragging, and back", async () => {
    const chart = page.getByTestId("chart-objective/kl");
    await chart.locator("canvas").waitFor();
    await chart.scrollIntoViewIfNeeded();
    const box = (await chart.locator(".u-over").boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.2, box.y + 20);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + 20, { steps: 5 });
    await page.mouse.up();
    const reset = chart.getByRole("button", { name: /reset zoom|zooming/ });
    await reset.waitFor();
    await expect.poll(() => pointsOf(page, "objective/kl")).toBeLessThan(24);
    await reset.click();
    await expect.poll(() => pointsOf(page, "objective/kl")).toBe(24);
  });

  it("shows samples by step, with a slider, a search and two steps side by side", async () => {
    await page.goto(`${baseUrl}/runs/${seeded.ppo}?tab=samples`);
    const table = page.getByTestId("samples-table");
    await table.getByText("The park was lovely and full of happy dogs!").waitFor();
    expect(await page.getByTestId("sample-step").textContent()).toBe("24");

    const slider = page.getByLabel("Step", { exact: true });
    await slider.focus();
    await page.keyboard.press("Home");
    await table.getByText("the park the park is is").waitFor();
    expect(await page.getByTestId("sample-step").textContent()).toBe("0");

    await page.getByLabel("Search samples").fill("sunshine");
    await table.getByText("Bright sunshine all day, a beautiful day!").first().waitFor();
    await expect.poll(() => table.getByRole("row").count()).toBe(3); // steps 20 and 24
    await page.getByLabel("Search samples").fill("");

    await slider.focus();
    await page.keyboard.press("End");
    await page.getByRole("button", { name: "Two steps" }).click();
    const sides = page.getByTestId("side-by-side");
    await sides.getByText("the park the park is is").waitFor();
    await sides.getByText("The park was lovely and full of happy dogs!").waitFor();
    await page.screenshot({ path: path.join(IMAGES, "dashboard-samples.png"), fullPage: true });
  });

  it("shows a failed run's error with its log tail, and follows a log live", async () => {
    await page.goto(`${baseUrl}/runs/${seeded.reward}`);
    const error = page.getByTestId("run-error");
    await error.waitFor();
    expect(await error.textContent()).toMatch(/loss is NaN at step 41[\s\S]*step 40: loss 0\.5987/);

    await page.goto(`${baseUrl}/runs/${seeded.ppo}?tab=logs`);
    const log = page.getByTestId("log");
    await log.getByText("iteration 24:").waitFor();
    await t.db.insert(runLogs).values({ runId: seeded.ppo, message: "iteration 25: score 1.300, kl 0.500" });
    await log.getByText("iteration 25:").waitFor({ timeout: 5_000 });
  });

  it("compares runs: the runs table's selection, overlaid curves with legend toggles, the config diff", async () => {
    await page.goto(baseUrl);
    await page.getByLabel("Select demo-pretrain").check();
    await page.getByLabel("Select demo-sft").check();
    await page.getByRole("button", { name: /Compare 2 runs/ }).click();
    await page.waitForURL(/\/compare\?runs=/);
    const legend = page.getByRole("group", { name: "Runs" });
    await legend.getByRole("button", { name: "demo-sft" }).waitFor();
    const loss = page.getByTestId("chart-loss");
    await loss.locator("canvas").waitFor();
    await expect.poll(() => pointsOf(page, "loss")).toBe(600);
    await legend.getByRole("button", { name: "demo-sft" }).click();
    await expect.poll(() => pointsOf(page, "loss")).toBe(300);
    await legend.getByRole("button", { name: "demo-sft" }).click();
    await expect.poll(() => pointsOf(page, "loss")).toBe(600);
    await loadAllCharts(page);
    await page.screenshot({ path: path.join(IMAGES, "dashboard-compare.png"), fullPage: true });

    await page.getByRole("navigation", { name: "Compare" }).getByText("config").click();
    const diff = page.getByTestId("config-comparison");
    await diff.getByText("learningRate").waitFor();
    expect(await diff.textContent()).toMatch(/learningRate\s*0\.002\s*0\.001/);
  });

  it("validates the launch form on its fields before submitting, and launches only for admins", async () => {
    await page.goto(`${baseUrl}/launch`);
    const submit = page.getByRole("button", { name: "Launch pretrain run" });
    await submit.waitFor();
    expect(await submit.isDisabled()).toBe(true); // not signed in
    const maxSteps = page.locator("#field-maxSteps");
    await maxSteps.fill("0");
    await maxSteps.blur();
    await page.locator('[data-field="maxSteps"]').getByRole("alert").waitFor();
    expect(await page.locator('[data-field="maxSteps"]').textContent()).toMatch(/>=\s*1/);
    await page.locator("#field-model\\.nEmbd").fill("30");
    await page.locator("#field-model\\.nEmbd").blur();
    expect(await page.locator('[data-field="model.nEmbd"]').textContent()).toMatch(/multiple of 8/);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(IMAGES, "dashboard-launch.png"), fullPage: true });
  });

  it("shows the data: sizes, labeling progress, agreement and preference pairs", async () => {
    await page.goto(`${baseUrl}/data`);
    const prefs = page.getByTestId("preference-datasets").getByRole("row", { name: /demo-preferences/ });
    await prefs.waitFor();
    expect(await prefs.textContent()).toMatch(/30 \/ 30 tasks complete/);
    expect(
      Number(((await page.getByTestId("total-pairs").textContent()) ?? "").replace(/,/g, "")),
    ).toBeGreaterThan(0);
    await page.getByTestId("datasets").getByText("demo-corpus").waitFor();
    await page.screenshot({ path: path.join(IMAGES, "dashboard-data.png"), fullPage: true });
    expect(errors, errors.join("\n")).toEqual([]);
  });

  describe("as an admin, with a worker", () => {
    let admin: BrowserContext;
    let adminPage: Page;
    let adminErrors: string[];
    let worker: ChildProcess;

    beforeAll(async () => {
      await createUser(t.db, {
        email: "ada@example.com",
        name: "Ada",
        password: "correct horse battery",
        role: "admin",
      });
      admin = await browser.newContext();
      ({ page: adminPage, errors: adminErrors } = await openPage(admin));
      // The seeded runs were written without queue jobs: settle them, or the worker's reaper would re-queue
      // them and the worker spend the test on them.
      await t.db
        .update(runs)
        .set({ status: "cancelled", finishedAt: new Date() })
        .where(inArray(runs.status, ["queued", "running"]));
      worker = startWorker(t.url);
      // Started and polling before the launch test's clock runs (on a busy machine tsx alone takes a while).
      await workerReady(worker);
    });

    it("signs in as an admin", async () => {
      await adminPage.goto(`${baseUrl}/login?next=/launch`);
      await adminPage.getByLabel("Email").fill("ada@example.com");
      await adminPage.getByLabel("Password").fill("correct horse battery");
      await adminPage.getByRole("button", { name: "Sign in" }).click();
      await adminPage.waitForURL(`${baseUrl}/launch`);
      await adminPage.locator(".user-box").getByText("Ada", { exact: true }).waitFor();
    });

    it("launches a tiny run from the form and watches its loss chart grow without a reload", async () => {
      await adminPage.goto(`${baseUrl}/launch`);
      await adminPage.locator(".user-box").getByText("Ada", { exact: true }).waitFor();
      const fill = async (field: string, value: string) => {
        await adminPage.locator(`#field-${field.replace(".", "\\.")}`).fill(value);
      };
      await adminPage.locator("#run-name").fill("e2e-tiny");
      await fill("maxSteps", "5000"); // long enough to watch it grow; the next test cancels it
      await fill("batchSize", "2");
      await fill("blockSize", "16");
      await fill("evalEvery", "10");
      await fill("checkpointEvery", "10");
      await fill("model.nLayer", "1");
      await fill("model.nEmbd", "32");
      await fill("model.nHead", "2");
      await fill("tokenizer.vocabSize", "300");
      await adminPage.getByRole("button", { name: "Launch pretrain run" }).click();
      // The first launch of a server process starts its pg-boss client: seconds on a busy machine.
      await adminPage.waitForURL(/\/runs\/[0-9a-f-]{36}/, { timeout: 60_000 }).catch(async (error) => {
        // Say why the form did not go through (a field's issue, the server's answer).
        const problems = await adminPage.locator('[role="alert"], .field__error').allTextContents();
        throw new Error(`${error}\n${problems.join("\n")}`);
      });
      await adminPage.getByRole("heading", { name: /e2e-tiny/ }).waitFor();
      await markDocument(adminPage);

      const loss = adminPage.getByTestId("chart-loss");
      await loss
        .locator("canvas")
        .waitFor({ timeout: 90_000 })
        .catch((error) => {
          throw new Error(`${error}\nthe worker said:\n${workerOutput(worker)}`);
        });
      const first = await pointsOf(adminPage, "loss");
      await expect.poll(() => pointsOf(adminPage, "loss"), { timeout: 30_000 }).toBeGreaterThan(first + 20);
      await adminPage.locator(".status--running").first().waitFor();
      expect(await sameDocument(adminPage)).toBe(true);
      await adminPage.getByTestId("chart-eval/loss").locator("canvas").waitFor();
      await expect
        .poll(
          async () =>
            Number((await adminPage.getByTestId("step").textContent())?.split("/")[0]?.replace(/,/g, "")),
          { timeout: 15_000 },
        )
        .toBeGreaterThan(20);
      await loadAllCharts(adminPage);
      await adminPage.screenshot({ path: path.join(IMAGES, "dashboard-live-run.png"), fullPage: true });
    }, 180_000);

    it("cancels the running run after a confirmation", async () => {
      const [run] = await t.db.select().from(runs).where(eq(runs.name, "e2e-tiny"));
      expect(adminPage.url()).toContain(run!.id);
      await adminPage.getByRole("button", { name: "Cancel run" }).click();
      const dialog = adminPage.getByRole("alertdialog");
      expect(await dialog.textContent()).toMatch(/stops at the end of its current step/);
      await dialog.getByRole("button", { name: "Yes, cancel it" }).click();
      await adminPage.locator(".status--cancelled").first().waitFor({ timeout: 30_000 });
      const [row] = await t.db.select().from(runs).where(eq(runs.id, run!.id));
      expect(row!.status).toBe("cancelled");
      expect(row!.step).toBeLessThan(5000);
    }, 60_000);

    it("queues the demo pipeline with one button", async () => {
      await stopProcess(worker); // nothing claims the demo's runs while the test looks at them
      await adminPage.goto(`${baseUrl}/launch`);
      await adminPage.getByRole("button", { name: "Quick version" }).click();
      await adminPage.waitForURL(`${baseUrl}/`);
      const chain = adminPage.getByTestId("pipeline-chain").first();
      await expect.poll(() => chain.getByRole("link").count()).toBe(9);
      const queued = await t.db.select().from(runs).where(eq(runs.status, "queued"));
      const demo = queued.filter((r) => r.name.startsWith("demo-quick-"));
      expect(demo.map((r) => r.name).sort()).toEqual(
        ["dpo", "generate", "grpo", "grpo-oracle", "ppo", "pretrain", "reward", "rloo", "sft"].map(
          (k) => `demo-quick-${k}`,
        ),
      );
      for (const r of demo) await cancelRun(t, r.id);
      expect(adminErrors, adminErrors.join("\n")).toEqual([]);
    });
  });
});

describe("dashboard without a database", () => {
  it("says the database is unreachable and what to check", async () => {
    await expectDatabaseUnreachable(browser, await startServer(await unreachableDatabaseUrl()));
  });
});

/** `next start` on a free port with the given database, stopped after the tests. */
async function startServer(databaseUrl: string): Promise<string> {
  const { baseUrl, server } = await startAppServer(databaseUrl, AUTH_SECRET);
  children.push(server);
  return baseUrl;
}

/** What each worker process printed (stdout and stderr), for a failure's message. */
const workerOutputs = new WeakMap<ChildProcess, string[]>();
const workerOutput = (worker: ChildProcess) => (workerOutputs.get(worker) ?? []).join("").slice(-4000);

/** Resolves once the worker says it is taking jobs; fails with its output if it exits first. */
function workerReady(worker: ChildProcess, timeoutMs = 150_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the worker did not start in ${timeoutMs / 1000} s:\n${workerOutput(worker)}`)),
      timeoutMs,
    );
    const check = () => {
      if (!/taking up to \d+ job/.test(workerOutput(worker))) return;
      clearTimeout(timer);
      resolve();
    };
    worker.stdout?.on("data", check);
    worker.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the worker exited (${code}) before taking jobs:\n${workerOutput(worker)}`));
    });
    check();
  });
}

/** `rlhf worker` (packages/trainer) on the test database, as the jobs tests start it. */
function startWorker(databaseUrl: string): ChildProcess {
  const trainer = path.join(REPO, "packages/trainer");
  const tsx = createRequire(path.join(trainer, "package.json")).resolve("tsx");
  const worker = spawn(
    process.execPath,
    ["--import", tsx, path.join(trainer, "src/cli/main.ts"), "worker", "--id", "e2e-worker", "--poll", "500"],
    {
      env: { ...process.env, DATABASE_URL: databaseUrl, RLHF_QUIET: "1" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    },
  );
  const output: string[] = [];
  workerOutputs.set(worker, output);
  for (const stream of [worker.stdout, worker.stderr])
    stream?.setEncoding("utf8").on("data", (chunk: string) => output.push(chunk));
  children.push(worker);
  return worker;
}
