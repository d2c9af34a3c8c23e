/**
 * The dashboard in 简体中文, in a real Chromium against the production build: a browser that prefers Chinese
 * gets Chinese pages from the first one (runs list, a run's page with its charts), an admin walks the launch
 * flow in Chinese (validation as you type in Chinese, launch, the new run's page), no English is left in the
 * pages' chrome (names, data, run kinds, metric keys, config fields and their schema docs aside), and the
 * language picker switches to English and back, remembered on the account. Screenshots go to
 * docs/images/zh-dashboard-*.png for docs/dashboard.md and docs/zh/. `pnpm test` builds first.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { createUser, issueSessionCookie } from "@rlhf/core/auth";
import { seedDemo } from "@rlhf/core/demo";
import { users } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { recordConsoleErrors } from "@rlhf/core/testing/apps";
import { eq } from "@rlhf/core/trpc";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMAGES, launchChromium, startServer, stopProcess } from "./fixtures/app";
import { type SeededPipeline, seedPipeline } from "./fixtures/seed";

let t: TestDatabase;
let browser: Browser;
let stop: () => Promise<void>;
let baseUrl: string;
let seeded: SeededPipeline;
const consoleErrors: string[] = [];
const SECRET = "zh-secret-zh-secret-zh-secret-zh-secret";

/** What may stay in Latin letters in a Chinese page's chrome: product, model and library names, units. */
const LATIN_ALLOWED = new Set([
  "RLHF",
  "Workbench",
  "English",
  "KL",
  "ETA",
  "Token",
  "token",
  "tokens",
  "wasm",
  "worker",
  "GPT-3",
  "Chinchilla",
  "bits",
  "byte",
  "Alpha",
  "SFT",
  "PPO",
  "GRPO",
  "RLOO",
  "DPO",
  "oracle",
  "Ada",
  "ada@example.com",
  "id",
]);

beforeAll(async () => {
  mkdirSync(IMAGES, { recursive: true });
  t = await createTestDatabase("rlhf_dashboard_zh");
  await seedDemo(t.db, { corpusSize: 60, sftSize: 12, language: "zh" });
  seeded = await seedPipeline(t, "演示");
  await createUser(t.db, {
    email: "ada@example.com",
    name: "Ada",
    password: "correct horse battery",
    role: "admin",
  });
  browser = await launchChromium();
  const started = await startServer(t.url, SECRET);
  baseUrl = started.baseUrl;
  stop = () => stopProcess(started.server);
});

afterAll(async () => {
  await browser?.close();
  await stop?.();
  await t?.drop();
});

const shot = (page: Page, name: string) =>
  page.screenshot({ path: path.join(IMAGES, `${name}.png`), fullPage: true });

async function chinesePage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 1360, height: 860 } });
  const page = await context.newPage();
  recordConsoleErrors(page, consoleErrors);
  return { context, page };
}

/**
 * Latin words in the page's chrome (text, titles, labels, placeholders) that are not names or units. Data
 * and identifiers are skipped: run and dataset names, run kinds and roles (tags), metric keys, config
 * fields and their schema descriptions (English by design), code, options of pickers.
 */
async function englishLeft(page: Page): Promise<string[]> {
  const texts = await page.evaluate(() => {
    const skip = [
      "code, pre, option, textarea, select, .mono, .tag, .cell-title, .link, .stage, .chain, .chips",
      ".chart-card, .chart-group > summary, .chart-tooltip, .legend__item",
      ".field__doc, .field__label code, .kind, .fieldset legend, .user-box strong, td, dd, .muted",
      "h1, .run-head, .error-box, .alert__message, .pipeline__head",
    ].join(", ");
    const out: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      if (!parent || parent.closest(skip) || parent.closest("script, style")) continue;
      if (parent.getClientRects().length === 0) continue;
      out.push(node.textContent ?? "");
    }
    for (const element of document.querySelectorAll("[title], [aria-label], [placeholder]")) {
      if (element.closest(".mono, .stage, .link, .chart-card, td, .tag, .legend__item")) continue;
      for (const name of ["title", "aria-label", "placeholder"]) out.push(element.getAttribute(name) ?? "");
    }
    out.push(document.title);
    return out;
  });
  const words = texts.flatMap((text) => text.match(/[A-Za-z][A-Za-z0-9_@.-]*[A-Za-z0-9]/g) ?? []);
  return [...new Set(words.filter((word) => !LATIN_ALLOWED.has(word)))];
}

/** Sign in as the admin on the Chinese sign-in page, which goes on to the launch page. */
async function signInToLaunch(page: Page) {
  await page.goto(`${baseUrl}/login?next=/launch`);
  await page.getByLabel("邮箱").fill("ada@example.com");
  await page.getByLabel("密码").fill("correct horse battery");
  await page.getByRole("button", { name: "登录" }).click();
  await page.waitForURL(`${baseUrl}/launch`);
  await page.locator(".user-box").getByText("Ada", { exact: true }).waitFor();
}

const storedLocale = async (email: string) =>
  (await t.db.select({ locale: users.locale }).from(users).where(eq(users.email, email)))[0]?.locale;

describe("the dashboard in Chinese", () => {
  it("answers a browser that prefers Chinese in Chinese: the runs and a run's page with its charts", async () => {
    const { context, page } = await chinesePage();
    await page.goto(baseUrl);
    await page.getByRole("heading", { name: "运行", exact: true }).first().waitFor();
    expect(await page.locator("html").getAttribute("lang")).toBe("zh-Hans");
    expect(await page.title()).toBe("RLHF Workbench — 仪表盘");
    await page.getByRole("navigation", { name: "主导航" }).getByRole("link", { name: "启动" }).waitFor();
    const ppo = page.getByTestId("runs-table").getByRole("row", { name: /演示-ppo/ });
    await ppo.waitFor();
    expect(await ppo.getByText("运行中").count()).toBe(1); // the status badge
    expect(await englishLeft(page)).toEqual([]);
    await shot(page, "zh-dashboard-runs");

    await page.goto(`${baseUrl}/runs/${seeded.ppo}`);
    await page.getByRole("heading", { name: "进度" }).waitFor();
    await page.getByRole("heading", { name: "血缘" }).waitFor();
    await page.getByTestId("chart-objective/scores").locator("canvas").waitFor({ timeout: 30_000 });
    await page.getByRole("navigation", { name: "运行" }).getByRole("link", { name: "图表" }).waitFor();
    await page.getByLabel("平滑").waitFor();
    expect(await englishLeft(page)).toEqual([]);
    await shot(page, "zh-dashboard-run");
    await context.close();
  });

  it("walks the launch flow in Chinese: checks fields as they are typed, launches, shows the new run", async () => {
    const { context, page } = await chinesePage();
    await signInToLaunch(page);
    await page.getByRole("heading", { name: "演示流水线" }).waitFor();
    const submit = page.getByRole("button", { name: "启动 pretrain 运行" });
    await submit.waitFor();
    expect(await submit.isDisabled()).toBe(false);

    // zod's own message, in Chinese; the bounds beside the label too.
    const maxSteps = page.locator("#field-maxSteps");
    await maxSteps.fill("0");
    await maxSteps.blur();
    const field = page.locator('[data-field="maxSteps"]');
    await field.getByRole("alert").waitFor();
    expect(await field.getByRole("alert").textContent()).toMatch(/[\u4e00-\u9fff]/);
    expect(await field.locator(".field__bounds").textContent()).toContain("整数");
    await submit.click();
    await page
      .getByTestId("form-invalid")
      .getByText(/个字段需要修正/)
      .waitFor();
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, "zh-dashboard-launch");

    const fill = (name: string, value: string) =>
      page.locator(`#field-${name.replace(".", "\\.")}`).fill(value);
    await page.locator("#run-name").fill("中文-tiny");
    await fill("maxSteps", "5");
    await fill("batchSize", "2");
    await fill("blockSize", "16");
    await fill("model.nLayer", "1");
    await fill("model.nEmbd", "32");
    await fill("model.nHead", "2");
    await fill("tokenizer.vocabSize", "300");
    await submit.click();
    await page.waitForURL(/\/runs\/[0-9a-f-]{36}/, { timeout: 60_000 }).catch(async (error) => {
      const problems = await page.locator('[role="alert"], .field__error').allTextContents();
      throw new Error(`${error}\n${problems.join("\n")}`);
    });
    await page.getByRole("heading", { name: /中文-tiny/ }).waitFor();
    // No worker here: the run waits in the queue, said in Chinese, and can be cancelled in Chinese.
    await page.locator(".status--queued", { hasText: "排队中" }).waitFor();
    await page.getByRole("button", { name: "取消运行" }).waitFor();
    expect(await englishLeft(page)).toEqual([]);
    await context.close();
  });

  it("switches to English with the picker, keeps the choice on the account, and back", async () => {
    const { context, page } = await chinesePage();
    await signInToLaunch(page);
    await page.getByRole("heading", { name: "启动", exact: true }).waitFor();

    await page.getByTestId("locale-picker").selectOption("en");
    await page.getByRole("heading", { name: "Launch", exact: true }).waitFor();
    await page.getByRole("button", { name: "Launch pretrain run" }).waitFor();
    await expect.poll(() => storedLocale("ada@example.com")).toBe("en");
    // A new page in the same browser stays English although the browser prefers Chinese.
    await page.goto(`${baseUrl}/data`);
    await page.getByRole("heading", { name: "Data", exact: true }).waitFor();
    await page.locator(".user-box").getByText("Ada", { exact: true }).waitFor();

    await page.getByTestId("locale-picker").selectOption("zh");
    await page.getByRole("heading", { name: "数据", exact: true }).waitFor();
    await expect.poll(() => storedLocale("ada@example.com")).toBe("zh");
    await context.close();
    expect(consoleErrors, consoleErrors.join("\n")).toEqual([]);
  });

  it("says a file's bad lines in Chinese, naming the line and the field as written", async () => {
    // A session of its own: the sign-in form's per-address limit may be spent by the tests above.
    const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 1360, height: 860 } });
    const [ada] = await t.db.select({ id: users.id }).from(users).where(eq(users.email, "ada@example.com"));
    const cookie = await issueSessionCookie(t.db, ada!.id, { secret: SECRET });
    const [name, value] = cookie.split(/=(.*)/s);
    await context.addCookies([{ name: name!, value: value!, url: baseUrl }]);
    const page = await context.newPage();
    const errors: string[] = [];
    // The refused dataset name below is a 400 on purpose (Chromium logs it).
    recordConsoleErrors(page, errors, /status of 400/);
    await page.goto(`${baseUrl}/data`);
    const form = page.getByTestId("import-dataset-form");
    await form.waitFor();
    await form.locator("#import-kind").selectOption("sft");
    await form.locator("#import-name").fill("中文/坏文件");
    const lines = [
      { prompt: "打个招呼。", completion: "你好！" },
      { prompt: "这里没有回答。", response: 3 },
      { messages: [{ role: "user", content: "只有一个问题？" }] },
    ];
    await form.locator("#import-file").setInputFiles({
      name: "bad.jsonl",
      mimeType: "application/jsonl",
      buffer: Buffer.from(lines.map((line) => JSON.stringify(line)).join("\n")),
    });
    await form.locator("button[type=submit]").click();
    const error = page.getByTestId("import-dataset-error");
    // A dataset name the server refuses (a slash: names go into configs, URLs and file names), said in Chinese.
    await error.getByText("dataset：请使用 1 到 100 个字母、数字或 . _ - : @（不含空格）").waitFor();
    await form.locator("#import-name").fill("zh-bad-sft");
    await form.locator("button[type=submit]").click();
    await error.getByText(/第 2 行/).waitFor();
    const text = (await error.textContent()) ?? "";
    expect(text).toContain("第 2 行：response：必须是字符串");
    expect(text).toContain("第 3 行：messages：至少需要 2 条消息：提示词和助手的回答");
    expect(text).not.toMatch(/must be|needs at least/);
    expect(errors, errors.join("\n")).toEqual([]);
    await context.close();
  });
});
