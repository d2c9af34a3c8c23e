/**
 * An answer the server did not confirm: the labeler's page sends it again with the same key and tells the
 * annotator, so it is stored once — whether the first request was lost on the way (never reached the
 * server) or its reply was (stored, but the page never heard). A real Chromium on the production build,
 * the network cut with Playwright's request routing.
 */
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createUser, issueSessionCookie } from "@rlhf/core/auth";
import { importJsonl } from "@rlhf/core/labeling";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { assertProductionBuild, launchChromium, startNextApp, stopProcess } from "@rlhf/core/testing/apps";
import type { Browser, Page, Route } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const APP_DIR = fileURLToPath(new URL("..", import.meta.url));
const SECRET = "retry-secret-retry-secret-retry-secret";

let t: TestDatabase;
let browser: Browser;
let server: ChildProcess | undefined;
let baseUrl: string;
let page: Page;
let datasetId: string;
let annotatorId: string;

beforeAll(async () => {
  assertProductionBuild(APP_DIR);
  t = await createTestDatabase("rlhf_labeler_retry");
  annotatorId = (await createUser(t.db, { email: "ann@example.com", name: "Ann", password: "ann-password" }))
    .id;
  const text = ["Which is kinder?", "Which is shorter?"]
    .map((prompt) => JSON.stringify({ prompt, responses: ["Thanks!", "Whatever, fine."] }))
    .join("\n");
  datasetId = (await importJsonl(t.db, { dataset: "retry-prefs", text, seed: 1 })).datasetId;
  ({ baseUrl, server } = await startNextApp({
    appDir: APP_DIR,
    env: { DATABASE_URL: t.url, BETTER_AUTH_SECRET: SECRET },
  }));
  browser = await launchChromium();
  const context = await browser.newContext();
  const [name, value] = (await issueSessionCookie(t.db, annotatorId, { secret: SECRET })).split(/=(.*)/s);
  await context.addCookies([{ name: name!, value: value!, url: baseUrl }]);
  page = await context.newPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (server) await stopProcess(server);
  await t?.drop();
});

const stored = async (taskId: string) => {
  const { rows } = await t.pool.query<{ rankings: number; counted: number }>(
    `select (select count(*)::int from rankings where task_id = $1 and annotator_id = $2) as rankings,
       (select ranking_count from comparison_tasks where id = $1) as counted`,
    [taskId, annotatorId],
  );
  return rows[0];
};

/** Cut the first submission as `cut` says; later ones pass. Returns how many submissions the page sent. */
async function cutFirstSubmission(cut: (route: Route) => Promise<void>): Promise<() => number> {
  let sent = 0;
  await page.unroute("**/api/trpc/labeling.submit*");
  await page.route("**/api/trpc/labeling.submit*", async (route) => {
    sent += 1;
    if (sent === 1) await cut(route);
    else await route.continue();
  });
  return () => sent;
}

async function answerShownTask(): Promise<string> {
  const task = page.getByTestId("task");
  await task.waitFor();
  const taskId = (await task.getAttribute("data-task-id"))!;
  await page.keyboard.press("1"); // A is better
  await page.keyboard.press("Enter");
  return taskId;
}

describe("an answer the server did not confirm", () => {
  it("is sent again with its key when the reply was lost, says so, and is stored once", async () => {
    await page.goto(`${baseUrl}/label/${datasetId}`);
    const sent = await cutFirstSubmission(async (route) => {
      await route.fetch(); // the server stores it...
      await route.abort("connectionreset"); // ...but the page never hears back
    });
    const taskId = await answerShownTask();
    await page
      .getByTestId("retrying")
      .getByText(/Not confirmed yet.*it will be stored once/)
      .waitFor();
    await page.getByTestId("undo-bar").waitFor({ timeout: 20_000 });
    expect(sent()).toBe(2);
    expect(await stored(taskId)).toEqual({ rankings: 1, counted: 1 });
  }, 60_000);

  it("is sent again when the request never reached the server, and is stored once", async () => {
    const sent = await cutFirstSubmission((route) => route.abort("internetdisconnected"));
    const taskId = await answerShownTask();
    await page.getByTestId("retrying").waitFor();
    expect(await stored(taskId)).toEqual({ rankings: 0, counted: 0 });
    await page.getByTestId("no-task").waitFor({ timeout: 20_000 });
    expect(sent()).toBe(2);
    expect(await stored(taskId)).toEqual({ rankings: 1, counted: 1 });
  }, 60_000);
});
