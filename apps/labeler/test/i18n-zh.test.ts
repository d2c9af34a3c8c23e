/**
 * The labeler in 简体中文, in a real Chromium against the production build: a browser that prefers Chinese
 * gets Chinese pages from the first one, an annotator ranks a pairwise and a K-wise task with the same keys
 * as in English, no English is left on the screens (but names, data and keys), the language picker switches
 * and the account remembers the choice, and signing in elsewhere brings it back. Screenshots of the main
 * screens go to docs/images/zh-*.png for docs/labeling.md. `pnpm test` builds first.
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createUser, issueSessionCookie } from "@rlhf/core/auth";
import { importJsonl } from "@rlhf/core/labeling";
import { users } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import {
  assertProductionBuild,
  launchChromium,
  recordConsoleErrors,
  startNextApp,
  stopProcess,
} from "@rlhf/core/testing/apps";
import { eq } from "@rlhf/core/trpc";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const APP_DIR = fileURLToPath(new URL("..", import.meta.url));
const IMAGES = path.resolve(APP_DIR, "../../docs/images");
let t: TestDatabase;
let browser: Browser;
let server: ChildProcess | undefined;
let baseUrl: string;
const consoleErrors: string[] = [];

const DATASET = "zh-prefs";
const SECRET = "zh-secret-zh-secret-zh-secret-zh-secret";
let adminId: string;
/** What may stay in Latin letters on a Chinese page: names, data, keys, commands and units. */
const LATIN_ALLOWED = new Set(
  [
    "RLHF Workbench",
    "PostgreSQL",
    "DATABASE_URL",
    "JSONL",
    "TRL",
    "SFT",
    "Krippendorff",
    "Bradley–Terry",
    "Chatbot Arena",
    "bootstrap",
    "p90",
    "worker",
    "English",
    "Enter",
    "Shift",
    "Esc",
    DATASET,
    "Ann",
    "Root Admin",
    "root@example.com",
    "ann@example.com",
    "policy-ppo",
    "policy-sft",
    "gpt2-base",
    "helpfulness-round-2", // the import form's example of a dataset name
  ].flatMap((phrase) => phrase.split(/[\s–]/)),
);

beforeAll(async () => {
  assertProductionBuild(APP_DIR);
  mkdirSync(IMAGES, { recursive: true });
  t = await createTestDatabase("rlhf_labeler_zh");
  adminId = (
    await createUser(t.db, {
      email: "root@example.com",
      name: "Root Admin",
      password: "root-password-1",
      role: "admin",
    })
  ).id;
  await createUser(t.db, { email: "ann@example.com", name: "Ann", password: "ann-password" });
  const lines = [
    {
      prompt: "给一位等了两周退款的顾客写一段**友好**的回复。",
      responses: [
        { text: "非常抱歉让您久等了！退款今天已经发出，三天内到账。", source: "policy-ppo" },
        { text: "退款需要时间，请耐心等待。", source: "policy-sft" },
      ],
    },
    {
      prompt: "给一家只卖酸面包的**面包店**起个名字。",
      responses: [
        { text: "酸香坊", source: "policy-ppo" },
        { text: "面包店", source: "policy-sft" },
        { text: "野酵母工坊", source: "gpt2-base" },
        { text: "一号面包", source: "policy-sft" },
      ],
    },
  ];
  await importJsonl(t.db, {
    dataset: DATASET,
    text: `${lines.map((line) => JSON.stringify(line)).join("\n")}\n`,
    requiredRankings: 1,
    seed: 1,
  });
  browser = await launchChromium();
  ({ baseUrl, server } = await startNextApp({
    appDir: APP_DIR,
    env: { DATABASE_URL: t.url, BETTER_AUTH_SECRET: SECRET },
  }));
});

afterAll(async () => {
  await browser?.close();
  if (server) await stopProcess(server);
  await t?.drop();
});

const shot = (page: Page, name: string) =>
  page.screenshot({ path: path.join(IMAGES, `${name}.png`), fullPage: true });

/** A browser whose language is `locale` (its Accept-Language), signed in as `email` through the form. */
async function signIn(locale: string, email: string, password: string, labels: [string, string, string]) {
  const context = await browser.newContext({ locale, viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  recordConsoleErrors(page, consoleErrors);
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel(labels[0]).fill(email);
  await page.getByLabel(labels[1]).fill(password);
  await page.getByRole("button", { name: labels[2] }).click();
  await page.waitForURL(`${baseUrl}/`);
  return page;
}

/** Latin words on screen (text, titles, labels, placeholders) that are not names, data, keys or code. */
async function englishLeft(page: Page): Promise<string[]> {
  const texts = await page.evaluate(() => {
    const skip = ".markdown, code, pre, kbd, .kbd, .cell-title, [data-testid=signed-in-as], option, textarea";
    const out: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      if (!parent || parent.closest(skip) || parent.closest("script, style")) continue;
      if (parent.getClientRects().length === 0) continue; // not rendered
      out.push(node.textContent ?? "");
    }
    for (const element of document.querySelectorAll("[title], [aria-label], [placeholder]")) {
      for (const name of ["title", "aria-label", "placeholder"]) out.push(element.getAttribute(name) ?? "");
    }
    out.push(document.title);
    return out;
  });
  const words = texts.flatMap((text) => text.match(/[A-Za-z][A-Za-z0-9_@.-]*[A-Za-z0-9]/g) ?? []);
  return [...new Set(words.filter((word) => !LATIN_ALLOWED.has(word) && !/^[A-Z]$/.test(word)))];
}

const storedLocale = async (email: string) =>
  (await t.db.select({ locale: users.locale }).from(users).where(eq(users.email, email)))[0]?.locale;

describe("the labeler in Chinese", () => {
  let page: Page;

  it("answers a browser that prefers Chinese in Chinese, from the sign-in page on", async () => {
    const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 1280, height: 860 } });
    const login = await context.newPage();
    // The wrong password below is refused on purpose (Chromium logs the 401).
    recordConsoleErrors(login, consoleErrors, /status of 401/);
    await login.goto(`${baseUrl}/login`);
    await login.getByRole("heading", { name: "登录" }).waitFor();
    expect(await login.locator("html").getAttribute("lang")).toBe("zh-Hans");
    expect(await login.title()).toBe("RLHF Workbench — 标注");
    expect(await englishLeft(login)).toEqual([]);
    await shot(login, "zh-login");
    // A wrong password is said in Chinese too.
    await login.getByLabel("邮箱").fill("ann@example.com");
    await login.getByLabel("密码").fill("wrong-password");
    await login.getByRole("button", { name: "登录" }).click();
    await login.getByRole("alert").getByText("邮箱或密码错误。").waitFor();
    await context.close();
  });

  it("an annotator ranks a pairwise and a K-wise task with the same keys as in English", async () => {
    page = await signIn("zh-CN", "ann@example.com", "ann-password", ["邮箱", "密码", "登录"]);
    await page.getByRole("heading", { name: "标注", exact: true }).waitFor();
    await page.getByTestId("labeling-datasets").getByText("2 个待你完成").waitFor();
    expect(await englishLeft(page)).toEqual([]);
    await shot(page, "zh-home");
    await page.getByRole("link", { name: "开始排序" }).click();

    for (let done = 1; done <= 2; done++) {
      const task = page.getByTestId("task");
      await task.waitFor();
      const taskId = await task.getAttribute("data-task-id");
      await page.getByRole("heading", { name: "快捷键" }).waitFor();
      if (await page.getByTestId("response-A").count()) {
        await page.getByRole("heading", { name: "回答 A" }).waitFor();
        await page.keyboard.press("1"); // A 更好
        await page.keyboard.press("m"); // 稍好
        await page.keyboard.press("f"); // 标记……
        await page.getByTestId("flag-mode").getByText("标记哪个回答？按 A 或 B（Esc 取消）。").waitFor();
        await page.keyboard.press("b"); // ……回答 B……
        await page.keyboard.press("4"); // ……未完成任务
        await page.keyboard.press("n");
        await page.keyboard.type("A 道歉并给出了到账时间。");
        await page.keyboard.press("Escape");
        expect(await page.getByRole("button", { name: "A 更好" }).getAttribute("aria-pressed")).toBe("true");
        expect(await page.getByRole("button", { name: "稍好" }).getAttribute("class")).toContain("chip--on");
        const flag = page.getByTestId("response-B").getByRole("button", { name: "未完成任务" });
        expect(await flag.getAttribute("aria-pressed")).toBe("true");
        expect(await englishLeft(page)).toEqual([]);
        await shot(page, "zh-pairwise");
      } else {
        await page.getByRole("heading", { name: "从最好到最差排序" }).waitFor();
        await page.keyboard.press("Enter"); // the untouched order warns first, in Chinese
        await page
          .getByTestId("warning")
          .getByText(/你还没有改变顺序/)
          .waitFor();
        await page.keyboard.press("3");
        await page.keyboard.press("Shift+ArrowUp");
        await page.keyboard.press("Shift+ArrowUp");
        await page.keyboard.press("ArrowDown");
        await page.keyboard.press("ArrowDown");
        await page.keyboard.press("t");
        await page.getByTestId("ranking").locator(".rank-item--tied").waitFor();
        expect(await englishLeft(page)).toEqual([]);
        await shot(page, "zh-kwise");
      }
      await page.keyboard.press("Enter");
      await page.getByTestId("undo-bar").getByText("已保存。回答来自：").waitFor();
      await page.getByTestId("progress").getByTestId("done-today").getByText(String(done)).waitFor();
      await page.waitForFunction(
        (id) => document.querySelector("[data-testid=task]")?.getAttribute("data-task-id") !== id,
        taskId,
      );
    }
    await page.getByTestId("no-task").getByText(`${DATASET} 中已没有留给你的任务。`).waitFor();
    expect(await englishLeft(page)).toEqual([]);
  });

  it("switches with the picker, keeps the choice on the account, and brings it back at the next sign-in", async () => {
    expect(await storedLocale("ann@example.com")).toBeNull();
    await page.getByTestId("locale-picker").selectOption("en");
    await page.getByTestId("no-task").getByText(`Nothing left for you in ${DATASET}.`).waitFor();
    expect(await page.locator("html").getAttribute("lang")).toBe("en");
    await expect.poll(() => storedLocale("ann@example.com")).toBe("en");
    await page.getByTestId("locale-picker").selectOption("zh");
    await page.getByTestId("no-task").getByText(`${DATASET} 中已没有留给你的任务。`).waitFor();
    await expect.poll(() => storedLocale("ann@example.com")).toBe("zh");

    // Another browser that prefers English: the sign-in page is English, what follows is Ann's Chinese.
    const elsewhere = await signIn("en-US", "ann@example.com", "ann-password", [
      "Email",
      "Password",
      "Sign in",
    ]);
    await elsewhere.getByRole("heading", { name: "标注", exact: true }).waitFor();
    await elsewhere.goto(`${baseUrl}/history`);
    await elsewhere.getByRole("heading", { name: "我的答案" }).waitFor();
    await elsewhere.getByTestId("history").getByText("排序了 2 个").waitFor();
    expect(await englishLeft(elsewhere)).toEqual([]);
    await shot(elsewhere, "zh-history");
  });

  it("shows an admin the datasets, agreement and people in Chinese", async () => {
    // Signed in by a session of its own: the sign-in form's per-address limit is spent by now.
    const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 1280, height: 860 } });
    const [name, value] = (await issueSessionCookie(t.db, adminId, { secret: SECRET })).split(/=(.*)/s);
    await context.addCookies([{ name: name!, value: value!, url: baseUrl }]);
    const admin = await context.newPage();
    recordConsoleErrors(admin, consoleErrors);
    await admin.goto(`${baseUrl}/admin`);
    await admin.getByRole("heading", { name: "偏好数据集" }).waitFor();
    expect(await englishLeft(admin)).toEqual([]);
    await shot(admin, "zh-admin");
    await admin.getByTestId("overview").getByRole("link", { name: DATASET }).click();
    await admin.getByTestId("agreement").getByRole("heading", { name: "一致性" }).waitFor();
    await admin.getByTestId("leaderboard").getByText("policy-ppo").waitFor();
    expect(await englishLeft(admin)).toEqual([]);
    await admin.goto(`${baseUrl}/admin/users`);
    await admin.getByRole("heading", { name: "成员", exact: true }).waitFor();
    expect(await englishLeft(admin)).toEqual([]);
    expect(consoleErrors, consoleErrors.join("\n")).toEqual([]);
  });

  it("says an import's bad lines in Chinese, naming the line and the field as written", async () => {
    const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 1280, height: 860 } });
    const [name, value] = (await issueSessionCookie(t.db, adminId, { secret: SECRET })).split(/=(.*)/s);
    await context.addCookies([{ name: name!, value: value!, url: baseUrl }]);
    const admin = await context.newPage();
    const errors: string[] = [];
    // The server refuses the file on purpose (Chromium logs the 400).
    recordConsoleErrors(admin, errors, /status of 400/);
    await admin.goto(`${baseUrl}/admin`);
    const bad = [
      JSON.stringify({ prompt: "一个好问题", responses: ["甲", "乙"] }),
      JSON.stringify({ prompt: "只有一个回答", responses: ["孤单"] }),
      JSON.stringify({ prompt: "", responses: ["甲", "乙"] }),
      "{not json",
    ].join("\n");
    await admin
      .getByTestId("import-form")
      .locator("input[type=file]")
      .setInputFiles({ name: "bad.jsonl", mimeType: "application/jsonl", buffer: Buffer.from(bad) });
    await admin.getByTestId("import-form").locator("input[name=dataset]").fill("zh-bad");
    await admin.getByTestId("import-form").locator("button[type=submit]").click();
    const error = admin.getByTestId("import-error");
    await error.waitFor();
    const text = (await error.textContent()) ?? "";
    expect(text).toContain("第 2 行：responses：至少需要 2 个回答才能比较");
    expect(text).toContain("第 3 行：prompt：不能为空");
    expect(text).toMatch(/第 4 行：\(line\)：不是有效的 JSON（.+）/);
    expect(text).not.toContain("needs at least");
    expect(text).not.toContain("must not be empty");
    expect(errors, errors.join("\n")).toEqual([]);
    await context.close();
  });
});
