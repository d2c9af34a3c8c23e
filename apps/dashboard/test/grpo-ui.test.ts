/**
 * GRPO and RLOO in the dashboard, as a person uses them: the production build in a real Chromium against a
 * fresh database. The launch form picks reward functions from the registry (a built-in with its parameters,
 * a user's module by path and export); a GRPO run's samples show every function's score per completion,
 * grouped by prompt; its run page charts the optimised (proxy) reward against the oracle (gold) together.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { createUser } from "@rlhf/core/auth";
import { rewardFunctions } from "@rlhf/core/configs";
import { seedDemo } from "@rlhf/core/demo";
import { runInputs, runs, samples } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { eq } from "@rlhf/core/trpc";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rewardTermForm } from "~/lib/config-form";
import { IMAGES, launchChromium, openPage, REPO, startServer, stopProcess } from "./fixtures/app";
import { noise, type SeededPipeline, seedPipeline, writeSeries } from "./fixtures/seed";

const AUTH_SECRET = randomBytes(32).toString("base64url");
const EXAMPLE = path.join(REPO, "docs/examples/reward-functions.ts");

let t: TestDatabase;
let browser: Browser;
let server: Awaited<ReturnType<typeof startServer>> | undefined;

beforeAll(async () => {
  t = await createTestDatabase("rlhf_dashboard_grpo_ui");
  mkdirSync(IMAGES, { recursive: true });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  if (server) await stopProcess(server.server);
  await t?.drop();
});

/** G completions per prompt, with each function's score: what group-policy.ts logs as samples. */
const GROUPS = [
  {
    prompt: "Tell me about the park.",
    completions: [
      ["The park was lovely and full of happy dogs!", 1.9, 6, true],
      ["The park was fine.", 0.2, 0, true],
      ["the park the park the park the", -1.4, 0, false],
      ["A happy, sunny park.", 1.2, 3, true],
    ],
  },
  {
    prompt: "Describe your breakfast.",
    completions: [
      ["A wonderful breakfast of warm bread.", 1.5, 4, true],
      ["Toast.", -0.3, 0, true],
      ["breakfast breakfast eggs eggs eggs", -1.1, 0, false],
      ["Good coffee and fresh fruit.", 0.9, 3, true],
    ],
  },
] as const;

/** A finished GRPO run on a reward model with the AFINN oracle as an evaluation function. */
async function seedGrpo(parents: SeededPipeline): Promise<string> {
  const [run] = await t.db
    .insert(runs)
    .values({
      name: "demo-grpo-rm",
      kind: "grpo",
      status: "succeeded",
      pipelineId: parents.pipelineId,
      backend: "wasm",
      step: 40,
      totalSteps: 40,
      startedAt: new Date(Date.now() - 600_000),
      finishedAt: new Date(),
      config: {
        policy: `run:${parents.sft}`,
        numGenerations: 4,
        // As launch stores it: parsed, every term named.
        rewards: [
          {
            function: "reward_model",
            params: { checkpoint: `run:${parents.reward}`, normalized: true },
            weight: 1,
            normalize: "none",
            name: "reward_model",
          },
        ],
        evaluation: [{ function: "sentiment", params: {}, weight: 1, normalize: "none", name: "sentiment" }],
      },
    })
    .returning();
  const id = run!.id;
  await t.db.insert(runInputs).values([
    { runId: id, parentRunId: parents.sft, role: "policy" },
    { runId: id, parentRunId: parents.reward, role: "rewards.0.params.checkpoint" },
  ]);
  const steps = Array.from({ length: 40 }, (_, i) => i + 1);
  // The proxy keeps rising; the gold rises, then falls back: over-optimisation.
  const proxy = steps.map((s, i) => -0.2 + 0.06 * s + 0.15 * (noise(i, 31) - 0.5));
  const gold = steps.map((s, i) => 1 + 0.35 * s - 0.0075 * s * s + 0.4 * (noise(i, 32) - 0.5));
  const series: Record<string, number[]> = {
    reward: proxy,
    "rewards/reward_model/mean": proxy,
    "rewards/reward_model/std": steps.map((s) => 1 - 0.01 * s),
    "rewards/sentiment/mean": gold,
    "rewards/sentiment/std": steps.map(() => 1.8),
    "objective/oracle_score": gold,
    frac_reward_zero_std: steps.map(() => 0),
    "completions/mean_length": steps.map((s) => 20 - 0.1 * s),
  };
  for (const [key, values] of Object.entries(series))
    await writeSeries(t.pool, id, key, steps, values, Date.now() - 600_000, 10);
  const rows: (typeof samples.$inferInsert)[] = [];
  for (const step of [1, 40])
    for (const [g, group] of GROUPS.entries())
      for (const [response, rm, sentiment, ended] of group.completions)
        rows.push({
          runId: id,
          step,
          prompt: group.prompt,
          response,
          reward: rm,
          extra: { group: g, ended, reward_model: rm, sentiment, advantage: rm / 2 },
        });
  await t.db.insert(samples).values(rows);
  return id;
}

describe("GRPO in the dashboard", () => {
  let baseUrl: string;
  let seeded: SeededPipeline;
  let grpo: string;
  let launched: string;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    await seedDemo(t.db, { corpusSize: 100, sftSize: 20 });
    seeded = await seedPipeline(t);
    grpo = await seedGrpo(seeded);
    await createUser(t.db, {
      email: "ada@example.com",
      name: "Ada",
      password: "correct horse battery",
      role: "admin",
    });
    server = await startServer(t.url, AUTH_SECRET);
    baseUrl = server.baseUrl;
    context = await browser.newContext();
    ({ page, errors } = await openPage(context));
    await page.goto(`${baseUrl}/login?next=/launch`);
    await page.getByLabel("Email").fill("ada@example.com");
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${baseUrl}/launch`);
  }, 120_000);

  it("reads the picker's choices from the registry and the term schema", () => {
    const form = rewardTermForm();
    expect(form.builtins.map((b) => b.name)).toEqual(Object.keys(rewardFunctions));
    const contains = form.builtins.find((b) => b.name === "contains")!;
    expect(contains.description).toBe(rewardFunctions.contains.description);
    expect(contains.params.map((f) => f.path)).toEqual([
      "params.text",
      "params.score",
      "params.otherwise",
      "params.perOccurrence",
      "params.caseSensitive",
    ]);
    expect(form.module.map((f) => f.path)).toEqual(["function.module", "function.export", "params"]);
    expect(form.settings.map((f) => [f.path, f.type])).toEqual([
      ["weight", "number"],
      ["normalize", "enum"],
      ["name", "string"],
    ]);
  });

  it("launches GRPO with a built-in reward (a parameter set), a user's module and an evaluation function", async () => {
    await page.locator(".user-box").getByText("Ada", { exact: true }).waitFor();
    await page.getByRole("button", { name: /^rloo/ }).waitFor(); // both new kinds come from their schemas
    await page.getByRole("button", { name: /^grpo/ }).click();
    await page.getByRole("button", { name: "Launch grpo run" }).waitFor();
    await page.locator("#run-name").fill("ui-grpo");
    await page.locator("#field-policy").selectOption(`run:${seeded.sft}`);

    // A built-in: its description and its parameters appear as fields.
    await page.getByLabel("Add to rewards").selectOption("contains");
    const first = page.locator('[data-term="rewards.0"]');
    expect(await first.getByTestId("reward-description").textContent()).toBe(
      rewardFunctions.contains.description,
    );
    await page.locator("#field-rewards\\.0\\.params\\.text").fill("happy");
    await page.locator("#field-rewards\\.0\\.params\\.perOccurrence").check();
    await page.locator("#field-rewards\\.0\\.normalize").selectOption("group");

    // The user's module: path and export; a wrong export is refused at launch, naming the field.
    await page.getByLabel("Add to rewards").selectOption("__module");
    await page.locator("#field-rewards\\.1\\.function\\.module").fill(EXAMPLE);
    await page.locator("#field-rewards\\.1\\.function\\.export").fill("brevety");
    await page.locator("#field-rewards\\.1\\.params").fill('{"maxWords": 8}');
    await page.locator("#field-rewards\\.1\\.weight").fill("0.5");

    // The gold reward, logged but not optimised.
    await page.getByLabel("Add to evaluation").selectOption("sentiment");
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(IMAGES, "dashboard-launch-grpo.png"), fullPage: true });

    await page.getByRole("button", { name: "Launch grpo run" }).click();
    const exportError = page.locator('[data-field="rewards.1.function.export"]').getByRole("alert");
    await exportError.waitFor({ timeout: 30_000 });
    expect(await exportError.textContent()).toMatch(/brevety/);
    // Shown once, on its field: not repeated under the list.
    expect(await page.locator('[data-field="rewards"]').getByRole("alert").count()).toBe(1);
    expect(await t.db.select().from(runs).where(eq(runs.name, "ui-grpo"))).toEqual([]);

    await page.locator("#field-rewards\\.1\\.function\\.export").fill("brevity");
    await page.getByRole("button", { name: "Launch grpo run" }).click();
    await page.waitForURL(/\/runs\/[0-9a-f-]{36}/, { timeout: 30_000 });
    const [row] = await t.db.select().from(runs).where(eq(runs.name, "ui-grpo"));
    expect(row!.kind).toBe("grpo");
    const config = row!.config as Record<string, unknown>;
    expect(config.policy).toBe(`run:${seeded.sft}`);
    expect(config.rewards).toEqual([
      {
        function: "contains",
        params: { text: "happy", score: 1, otherwise: 0, perOccurrence: true, caseSensitive: true },
        weight: 1,
        normalize: "group",
        name: "contains",
      },
      {
        function: { module: EXAMPLE, export: "brevity" },
        params: { maxWords: 8 },
        weight: 0.5,
        normalize: "none",
        name: "brevity",
      },
    ]);
    expect(config.evaluation).toEqual([
      { function: "sentiment", params: {}, weight: 1, normalize: "none", name: "sentiment" },
    ]);
    launched = row!.id;
  }, 90_000);

  it("launches again with changes: the picker shows the run's reward functions", async () => {
    await page.goto(`${baseUrl}/launch?from=${launched}`);
    await page.getByRole("button", { name: "Launch grpo run" }).waitFor();
    await expect.poll(() => page.locator("#field-rewards\\.0\\.function").inputValue()).toBe("contains");
    expect(await page.locator("#field-rewards\\.0\\.params\\.text").inputValue()).toBe("happy");
    expect(await page.locator("#field-rewards\\.0\\.normalize").inputValue()).toBe("group");
    expect(await page.locator("#field-rewards\\.1\\.function\\.module").inputValue()).toBe(EXAMPLE);
    expect(await page.locator("#field-rewards\\.1\\.function\\.export").inputValue()).toBe("brevity");
    expect(await page.locator("#field-rewards\\.1\\.weight").inputValue()).toBe("0.5");
    expect(await page.locator("#field-evaluation\\.0\\.function").inputValue()).toBe("sentiment");
    // Removing a term takes it out; the terms after it keep what was typed in them.
    await page.getByLabel("Add to rewards").selectOption("__module");
    await page.locator("#field-rewards\\.2\\.params").fill('{"maxWords": 3}');
    await page.locator('[data-term="rewards.1"]').getByRole("button", { name: "Remove" }).click();
    expect(await page.locator('[data-term="rewards.2"]').count()).toBe(0);
    expect(await page.locator("#field-rewards\\.1\\.params").inputValue()).toBe('{"maxWords": 3}');
    expect(await page.locator("#field-rewards\\.0\\.params\\.text").inputValue()).toBe("happy");
  });

  it("shows a GRPO run's samples by group, with every function's score per completion", async () => {
    await page.goto(`${baseUrl}/runs/${grpo}?tab=samples`);
    const table = page.getByTestId("samples-table");
    await table.getByText("The park was lovely and full of happy dogs!").waitFor();
    expect(await page.getByTestId("sample-step").textContent()).toBe("40");
    const headers = await table.locator("thead th").allTextContents();
    // The optimised function, then the evaluation one (config order), each completion's scores.
    expect(headers).toEqual(["Completion", "Reward", "reward_model", "sentiment (eval)", "Advantage", "KL"]);
    const groups = table.getByTestId("sample-group");
    expect(await groups.allTextContents()).toEqual([
      "Group 1 · 4 completions of Tell me about the park.",
      "Group 2 · 4 completions of Describe your breakfast.",
    ]);
    // Each group's body holds its own G completions, with each function's score.
    const second = table.locator('tbody[data-group="1"] tr:not(.sample-group)');
    expect(await second.count()).toBe(4);
    const cells = await second.nth(0).getByRole("cell").allInnerTexts();
    expect(cells.slice(0, 4)).toEqual(["A wonderful breakfast of warm bread.", "1.5", "1.5", "4"]);
    expect(await second.nth(2).textContent()).toMatch(/\(cut\)/); // ended without end-of-text
    await page.screenshot({ path: path.join(IMAGES, "dashboard-grpo-samples.png"), fullPage: true });
  });

  it("charts the proxy reward and the gold (oracle) reward together on the run page", async () => {
    await page.goto(`${baseUrl}/runs/${grpo}`);
    const chart = page.getByTestId("proxy-gold-chart");
    await chart.locator("canvas").waitFor();
    await expect
      .poll(async () => Number(await chart.getByTestId("proxy-gold-proxy").getAttribute("data-points")))
      .toBe(40);
    expect(Number(await chart.getByTestId("proxy-gold-gold").getAttribute("data-points"))).toBe(40);
    expect(await chart.textContent()).toMatch(/proxy: reward[\s\S]*gold: objective\/oracle_score/);
    // Every reward function has its own group of charts.
    for (const ns of ["rewards/reward_model", "rewards/sentiment"])
      await page.locator("summary", { hasText: ns }).first().waitFor();
    await page.getByTestId("chart-objective/oracle_score").locator("canvas").waitFor();
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({
      path: path.join(IMAGES, "dashboard-grpo-run.png"),
      fullPage: true,
      clip: { x: 0, y: 0, width: 1280, height: 1000 },
    });

    // PPO with an evaluation function: its proxy is objective/scores.
    const ppoSteps = Array.from({ length: 24 }, (_, i) => i + 1);
    await writeSeries(
      t.pool,
      seeded.ppo,
      "objective/oracle_score",
      ppoSteps,
      ppoSteps.map((s) => 1 + 0.1 * s),
    );
    await page.goto(`${baseUrl}/runs/${seeded.ppo}`);
    const ppoChart = page.getByTestId("proxy-gold-chart");
    await ppoChart.locator("canvas").waitFor();
    expect(await ppoChart.textContent()).toMatch(/proxy: objective\/scores/);
    await expect
      .poll(async () => Number(await ppoChart.getByTestId("proxy-gold-gold").getAttribute("data-points")))
      .toBe(24);

    // A run without an oracle (the pretraining run) has no proxy-vs-gold chart.
    await page.goto(`${baseUrl}/runs/${seeded.pretrain}`);
    await page.getByTestId("chart-loss").locator("canvas").waitFor();
    expect(await page.getByTestId("proxy-gold-chart").count()).toBe(0);
  });

  it("overlays GRPO runs with the whole pipeline (PPO, DPO, …) on the compare page", async () => {
    const all = await t.db.select({ id: runs.id, name: runs.name }).from(runs);
    expect(all.length).toBeGreaterThanOrEqual(7); // the demo pipeline's six, this GRPO run, the one launched
    await page.goto(`${baseUrl}/compare?runs=${all.map((r) => r.id).join(",")}`);
    for (const r of all) await page.getByRole("link", { name: r.name, exact: true }).first().waitFor();
    const legend = page.getByRole("group", { name: "Runs" }).getByRole("button");
    expect(await legend.count()).toBe(all.length);
    // Charts load as they come near the viewport.
    for (const key of ["reward", "objective/scores", "objective/oracle_score"]) {
      const chart = page.getByTestId(`chart-${key}`);
      await chart.scrollIntoViewIfNeeded();
      await chart.locator("canvas").waitFor();
    }
    expect(errors, errors.join("\n")).toEqual([]);
  });
});
