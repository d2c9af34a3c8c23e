/**
 * The data page's "Import a dataset" form in a real Chromium against the production build: hidden from
 * people who are not admins; a bad file names its lines and stores nothing; a good SFT file is stored
 * and its dataset appears in the list without a reload.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createUser } from "@rlhf/core/auth";
import { datasets, examples } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { asc, eq } from "@rlhf/core/trpc";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, openPage, startServer, stopProcess } from "./fixtures/app";

let t: TestDatabase;
let browser: Browser;
let server: ChildProcess | undefined;
let baseUrl: string;

beforeAll(async () => {
  t = await createTestDatabase("rlhf_dashboard_import");
  browser = await launchChromium();
  await createUser(t.db, {
    email: "ada@example.com",
    name: "Ada",
    password: "correct horse battery",
    role: "admin",
  });
  ({ baseUrl, server } = await startServer(t.url, randomBytes(32).toString("base64url")));
});

afterAll(async () => {
  await browser?.close();
  if (server) await stopProcess(server);
  await t?.drop();
});

const jsonl = (rows: unknown[]) => Buffer.from(`${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);

describe("importing a dataset on the data page", () => {
  let page: Page;
  let errors: string[];

  it("is not offered to someone who is not signed in", async () => {
    const anonymous = await openPage(browser);
    await anonymous.page.goto(`${baseUrl}/data`);
    await anonymous.page.getByTestId("datasets").waitFor();
    // Once the page knows nobody is signed in, there is no form...
    await anonymous.page.locator(".user-box").getByText("Sign in").waitFor();
    expect(await anonymous.page.getByTestId("import-dataset-form").count()).toBe(0);
    await anonymous.page.close();
    // ...and the server refuses the mutation itself.
    const response = await fetch(`${baseUrl}/api/trpc/data.importDataset`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: baseUrl },
      body: JSON.stringify({ json: { kind: "text", name: "sneaky", content: '{"text": "x"}' } }),
    });
    expect(response.status).toBe(401);
    expect(await t.db.select().from(datasets).where(eq(datasets.name, "sneaky"))).toEqual([]);
  });

  it("lists every bad line of a bad file and imports nothing", async () => {
    ({ page, errors } = await openPage(browser));
    await page.goto(`${baseUrl}/login?next=/data`);
    await page.getByLabel("Email").fill("ada@example.com");
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${baseUrl}/data`);

    const form = page.getByTestId("import-dataset-form");
    await form.waitFor();
    await form.getByLabel("Kind").selectOption("sft");
    await form.getByLabel("Dataset name").fill("browser-sft");
    await form.getByLabel("File").setInputFiles({
      name: "bad.jsonl",
      mimeType: "application/jsonl",
      buffer: jsonl([
        { prompt: "Say hi.", completion: "Hello!" },
        { prompt: "No answer here." },
        { messages: [{ role: "user", content: "Only a question?" }] },
      ]),
    });
    await form.getByRole("button", { name: "Import" }).click();
    const error = page.getByTestId("import-dataset-error");
    await error.waitFor();
    const text = await error.textContent();
    expect(text).toContain("Nothing was imported: 3 problems to fix");
    expect(text).toContain("line 2: response: must be a string");
    expect(text).toContain("line 3: messages: needs at least 2 messages");
    expect(await t.db.select().from(datasets).where(eq(datasets.name, "browser-sft"))).toEqual([]);
  });

  it("imports a good SFT file, says how many rows, and lists the dataset without a reload", async () => {
    await page.evaluate(() => Object.assign(window, { __sameDocument: true }));
    const form = page.getByTestId("import-dataset-form");
    await form.getByLabel("Eval fraction").fill("0.25");
    await form.getByLabel("File").setInputFiles({
      name: "good.jsonl",
      mimeType: "application/jsonl",
      buffer: jsonl([
        { prompt: "Say hi.", completion: "Hello!" },
        {
          prompt: [{ role: "user", content: "Name a colour." }],
          completion: [{ role: "assistant", content: "Blue." }],
        },
        {
          messages: [
            { role: "user", content: "Capital of France?" },
            { role: "assistant", content: "Paris." },
          ],
        },
        { prompt: "Count to 3.", response: "1, 2, 3" },
      ]),
    });
    await form.getByRole("button", { name: "Import" }).click();
    const ok = page.getByTestId("import-dataset-ok");
    await ok.waitFor();
    expect(await ok.textContent()).toBe("Imported 4 rows into browser-sft (new dataset): 3 train, 1 eval.");
    expect(await page.getByTestId("import-dataset-error").count()).toBe(0);

    const row = page.getByTestId("datasets").getByRole("row", { name: /browser-sft/ });
    await row.waitFor({ timeout: 10_000 });
    expect((await row.getByRole("cell").allInnerTexts()).slice(1)).toEqual(["sft", "import", "3", "1"]);
    expect(await page.evaluate(() => (window as { __sameDocument?: boolean }).__sameDocument)).toBe(true);

    const [dataset] = await t.db.select().from(datasets).where(eq(datasets.name, "browser-sft"));
    const rows = await t.db
      .select({ split: examples.split, prompt: examples.prompt, response: examples.response })
      .from(examples)
      .where(eq(examples.datasetId, dataset!.id))
      .orderBy(asc(examples.idx));
    expect(rows).toEqual([
      { split: "train", prompt: "Say hi.", response: "Hello!" },
      { split: "train", prompt: "Name a colour.", response: "Blue." },
      { split: "train", prompt: "Capital of France?", response: "Paris." },
      { split: "eval", prompt: "Count to 3.", response: "1, 2, 3" },
    ]);
    expect(errors).toEqual([]);
  });
});
