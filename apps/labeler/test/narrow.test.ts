/**
 * The labeler on a phone (390 px) and a tablet (768 px), by touch: the header fits with every link
 * reachable, no page scrolls sideways, and a K-wise task is ranked with the move up/down buttons alone.
 */
import type { ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createUser } from "@rlhf/core/auth";
import { importJsonl } from "@rlhf/core/labeling";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import {
  assertProductionBuild,
  launchChromium,
  recordConsoleErrors,
  startNextApp,
  stopProcess,
} from "@rlhf/core/testing/apps";
import { NARROW_WIDTHS, narrowLayoutProblems } from "@rlhf/core/testing/narrow";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const APP_DIR = fileURLToPath(new URL("..", import.meta.url));
const IMAGES = path.resolve(APP_DIR, "../../docs/images");
let t: TestDatabase;
let browser: Browser;
let server: ChildProcess | undefined;
let baseUrl: string;

beforeAll(async () => {
  assertProductionBuild(APP_DIR);
  t = await createTestDatabase("rlhf_labeler_narrow");
  await createUser(t.db, {
    email: "root@example.com",
    name: "Root Admin",
    password: "root-password-1",
    role: "admin",
  });
  const responses = ["Rise & Shine Sourdough", "Bread Store", "The Wild Yeast Collective", "Bakery 1"];
  await importJsonl(t.db, {
    dataset: "phone-prefs",
    text: `${JSON.stringify({ prompt: "Name a sourdough bakery.", responses })}\n`,
    requiredRankings: 1,
    seed: 1,
  });
  browser = await launchChromium();
  ({ baseUrl, server } = await startNextApp({
    appDir: APP_DIR,
    env: { DATABASE_URL: t.url, BETTER_AUTH_SECRET: "narrow-secret-narrow-secret-narrow-secret" },
  }));
});
afterAll(async () => {
  await browser?.close();
  if (server) await stopProcess(server);
  await t?.drop();
});

async function signedIn(width: number): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({
    viewport: { width, height: 844 },
    hasTouch: true,
    isMobile: width < 500,
  });
  const page = await context.newPage();
  const errors: string[] = [];
  recordConsoleErrors(page, errors);
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel("Email").fill("root@example.com");
  await page.getByLabel("Password").fill("root-password-1");
  await page.getByRole("button", { name: "Sign in" }).tap();
  await page.getByTestId("signed-in-as").waitFor();
  return { page, errors };
}

describe("the labeler on narrow screens", () => {
  for (const width of NARROW_WIDTHS) {
    it(`at ${width} px: every page fits, every link of the header is reachable by touch`, async () => {
      const { page, errors } = await signedIn(width);
      for (const [link, url] of [
        ["Label", "/"],
        ["My answers", "/history"],
        ["Admin", "/admin"],
        ["People", "/admin/users"],
      ] as const) {
        await page
          .getByRole("navigation", { name: "Main" })
          .getByRole("link", { name: link, exact: true })
          .tap();
        await page.waitForURL(`${baseUrl}${url}`);
        await page.waitForLoadState("networkidle");
        expect(await narrowLayoutProblems(page), `${url} at ${width} px`).toEqual([]);
      }
      expect(errors).toEqual([]);
      await page.context().close();
    });
  }

  it("at 390 px: a K-wise task is ranked by touch with the move buttons, and submitted", async () => {
    const { page } = await signedIn(390);
    await page.getByRole("link", { name: "Start ranking" }).tap();
    await page.getByTestId("ranking").waitFor();
    expect(await narrowLayoutProblems(page)).toEqual([]);
    const order = async () =>
      page
        .getByTestId("ranking")
        .locator("[data-testid^=rank-item-]")
        .evaluateAll((items) =>
          items.map((item) => item.getAttribute("data-testid")!.slice("rank-item-".length)),
        );
    const before = await order();
    const last = before.at(-1)!;
    // The last response to the top by three taps; the top one's "up" is disabled.
    for (let i = 0; i < 3; i++) await page.getByRole("button", { name: `Move ${last} up` }).tap();
    expect(await order()).toEqual([last, ...before.slice(0, -1)]);
    expect(await page.getByRole("button", { name: `Move ${last} up` }).isDisabled()).toBe(true);
    await page.getByRole("button", { name: `Move ${before[0]} down` }).tap();
    expect(await order()).toEqual([last, before[1], before[0], before[2]]);
    await page.screenshot({ path: path.join(IMAGES, "labeler-kwise-phone.png"), fullPage: true });
    await page.getByRole("button", { name: "Submit" }).tap();
    await page.getByTestId("no-task").waitFor();
    const { rows } = await t.pool.query("select ranking from rankings");
    expect(rows).toHaveLength(1);
    expect(rows[0].ranking).toHaveLength(4);
    await page.context().close();
  });
});
