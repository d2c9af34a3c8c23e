/**
 * The playground in a real Chromium against the production build: a small model saved as a checkpoint of
 * a run in the test database, opened by deep link, generated greedily in the browser and on the server,
 * and checked token for token against `generate` of @rlhf/trainer called here.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createUser } from "@rlhf/core/auth";
import { generateDemo } from "@rlhf/core/demo";
import { checkpoints, runs } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { initBackend } from "@rlhf/trainer/backend";
import { completionText, GPT, generate, gptConfig } from "@rlhf/trainer/browser";
import { loadCheckpoint, saveCheckpoint } from "@rlhf/trainer/checkpoint";
import { decompress, numericsOfBackend, readHeader } from "@rlhf/trainer/compress";
import { trainBpe } from "@rlhf/trainer/tokenizer";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMAGES, launchChromium, openPage, startServer, stopProcess } from "./fixtures/app";

const PROMPT = "Tell me about the park.";
const MAX_NEW_TOKENS = 40;

let t: TestDatabase;
let browser: Browser;
/** Signed in as an annotator: comparing with the server needs an account (any role). */
let signedIn: BrowserContext;
let server: ChildProcess | undefined;
let baseUrl: string;
const home = mkdtempSync(path.join(tmpdir(), "dashboard-playground-"));
let runId: string;
let checkpointId: string;
let earlierCheckpointId: string;
/** Greedy tokens of PROMPT computed here, with generate() itself. */
let expected: { tokens: number[]; text: string };

beforeAll(async () => {
  t = await createTestDatabase("rlhf_dashboard_playground");
  browser = await launchChromium();

  // A small model with large initial weights: peaked distributions keep greedy choices far from ties, so
  // float differences between backends cannot flip a token.
  const demo = generateDemo({ corpusSize: 200, sftSize: 20 });
  const tokenizer = trainBpe(demo.corpus, { vocabSize: 300 });
  const model = new GPT(
    gptConfig("tiny", {
      vocabSize: tokenizer.vocabSize,
      nPositions: 256,
      nEmbd: 32,
      nLayer: 2,
      nHead: 2,
      initializerRange: 0.4,
    }),
    { seed: 11 },
  );
  const dir = path.join(home, "step-000100");
  await initBackend("wasm");
  await saveCheckpoint(dir, model, tokenizer);
  await saveCheckpoint(path.join(home, "step-000050"), model, tokenizer);
  model.dispose();

  const [run] = await t.db
    .insert(runs)
    .values({ name: "playground-sft", kind: "sft", status: "succeeded", config: {} })
    .returning();
  runId = run!.id;
  const [checkpoint, earlier] = await t.db
    .insert(checkpoints)
    .values([
      { runId, step: 100, path: dir, isFinal: true },
      { runId, step: 50, path: path.join(home, "step-000050") },
    ])
    .returning();
  checkpointId = checkpoint!.id;
  earlierCheckpointId = earlier!.id;

  const loaded = await loadCheckpoint(dir, { trainable: false });
  const { tokens } = await generate(loaded.model, [loaded.tokenizer.formatChat(PROMPT).ids], {
    maxNewTokens: MAX_NEW_TOKENS,
    greedy: true,
    eosTokenId: loaded.tokenizer.eosId,
    padTokenId: loaded.tokenizer.padId,
  });
  expected = { tokens: tokens[0]!, text: completionText(loaded.tokenizer, tokens[0]!) };
  loaded.model.dispose();

  ({ baseUrl, server } = await startServer(t.url, randomBytes(32).toString("base64url")));
  await createUser(t.db, {
    email: "ann@example.com",
    name: "Ann",
    password: "ann-password-1",
    role: "annotator",
  });
  signedIn = await browser.newContext();
  const login = await signedIn.newPage();
  await login.goto(`${baseUrl}/login?next=/playground`);
  await login.getByLabel("Email").fill("ann@example.com");
  await login.getByLabel("Password").fill("ann-password-1");
  await login.getByRole("button", { name: "Sign in" }).click();
  await login.waitForURL(`${baseUrl}/playground`);
  await login.close();
});

afterAll(async () => {
  await browser?.close();
  if (server) await stopProcess(server);
  await t?.drop();
  rmSync(home, { recursive: true, force: true });
});

const tokensOf = async (page: Page, testId: string) =>
  ((await page.getByTestId(testId).getAttribute("data-tokens")) ?? "").split(",").filter(Boolean).map(Number);

async function generateAndWait(page: Page) {
  await page.getByRole("button", { name: "Generate" }).click();
  await page.locator('[data-testid="browser-output"][data-state="done"]').waitFor({ timeout: 60_000 });
}

describe("playground", () => {
  it("compresses and decompresses in the browser, byte for byte; the file names the browser's backend and Node refuses it", async () => {
    const { page, errors } = await openPage(signedIn);
    await page.goto(`${baseUrl}/playground?run=${runId}&checkpoint=${checkpointId}`);
    await page.getByTestId("model-ready").waitFor({ timeout: 60_000 });
    const text = `${generateDemo({ corpusSize: 3, sftSize: 1 }).corpus.join("\n")}\ncafé ☕ <|endoftext|> 😀`;
    await page.getByLabel("Text", { exact: true }).fill(text);
    await page.getByRole("button", { name: "Compress", exact: true }).click();
    const result = page.getByTestId("compress-result");
    await result.waitFor({ timeout: 60_000 });
    expect(await result.textContent()).toMatch(
      /→ .*: \d+\.\d\d bits\/byte \(coded alone: \d+\.\d\d; gzip: \d+\.\d\d\) · .*\/s/,
    );

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: /download text\.rlz/ }).click(),
    ]);
    const file = new Uint8Array(readFileSync((await download.path())!));
    expect(file.length).toBe(Number(await result.getAttribute("data-file-bytes")));
    const header = readHeader(file);
    expect(header.bytes).toBe(new TextEncoder().encode(text).length);
    expect(header.numerics).toMatch(/^wasm · wasm, SIMD · kernels stock · tfjs [\d.]+ · browser$/);
    // The same checkpoint in Node computes with other kernels: refused, never decoded wrong.
    const loaded = await loadCheckpoint(path.join(home, "step-000100"), { trainable: false });
    try {
      await expect(
        decompress(loaded.model, loaded.tokenizer, file, {
          checkpointRef: "step-000100",
          numerics: numericsOfBackend(await initBackend("wasm")),
        }),
      ).rejects.toThrow(/compressed on "wasm · wasm, SIMD .* browser"; this process computes on "wasm:/);
    } finally {
      loaded.model.dispose();
    }

    await page.getByRole("button", { name: "Decompress", exact: true }).click();
    await page.getByTestId("decompress-result").waitFor({ timeout: 60_000 });
    expect(await page.getByTestId("restored-text").textContent()).toBe(text);
    expect(await page.getByTestId("decompress-result").textContent()).toContain(
      "identical to the input, byte for byte",
    );
    await page.getByTestId("compress-box").screenshot({ path: path.join(IMAGES, "dashboard-compress.png") });
    expect(errors, errors.join("\n")).toEqual([]);
    await page.close();
  });

  it("runs a deep-linked checkpoint in the browser and matches the server and generate() token for token", async () => {
    expect(expected.tokens.length).toBeGreaterThan(5);
    const { page, errors } = await openPage(signedIn);
    const requests: string[] = [];
    page.on("request", (request) => requests.push(request.url()));
    await page.goto(`${baseUrl}/playground?run=${runId}&checkpoint=${checkpointId}`);
    expect(await page.getByRole("link", { name: "Playground" }).getAttribute("aria-current")).toBe("page");
    await page.getByTestId("model-ready").waitFor({ timeout: 60_000 });
    expect(await page.getByLabel("Run").inputValue()).toBe(runId);
    expect(await page.getByLabel("Checkpoint").inputValue()).toBe(checkpointId);
    // Chromium here has no GPU: its WebGL is SwiftShader, passed over for WASM.
    expect(await page.getByTestId("backend").textContent()).toBe("wasm");
    expect(await page.getByTestId("backend-note").textContent()).toMatch(/WebGL passed over: .*SwiftShader/);

    await page.getByLabel("Prompt", { exact: true }).fill(PROMPT);
    await page.getByLabel("Max new tokens").fill(String(MAX_NEW_TOKENS));
    expect(await page.getByLabel("Temperature").inputValue()).toBe("0");

    // Record every text the output shows while it runs: tokens must appear one after another.
    await page.evaluate(() => {
      const seen: string[] = [];
      Object.assign(window, { __seen: seen });
      new MutationObserver(() => {
        const card = document.querySelector('[data-testid="browser-output"]');
        if (card?.getAttribute("data-state") === "running") seen.push(card.getAttribute("data-tokens") ?? "");
      }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    await generateAndWait(page);
    const browserTokens = await tokensOf(page, "browser-output");
    const browserText = await page.getByTestId("browser-output-text").textContent();
    expect(browserTokens).toEqual(expected.tokens);
    expect(browserText).toBe(expected.text);
    const partial = new Set(
      (await page.evaluate(() => (window as unknown as { __seen: string[] }).__seen)).filter(Boolean),
    );
    expect(partial.size).toBeGreaterThan(1);
    expect(await page.getByTestId("browser-output-rate").textContent()).toMatch(/^\d+\.\d tokens\/s$/);

    // The server's greedy output, beside it.
    await page.locator('[data-testid="server-output"][data-state="done"]').waitFor({ timeout: 60_000 });
    expect(await tokensOf(page, "server-output")).toEqual(expected.tokens);
    expect(await page.getByTestId("server-output-text").textContent()).toBe(expected.text);
    expect(await page.getByTestId("comparison").textContent()).toContain("Identical, token for token");
    await page.screenshot({ path: path.join(IMAGES, "dashboard-playground.png"), fullPage: true });

    // A second generation leaves as many tensors alive as the first.
    const tensors = Number(await page.getByTestId("num-tensors").getAttribute("data-value"));
    expect(tensors).toBeGreaterThan(0);
    await page.getByLabel("Compare with the server").uncheck();
    await page.getByLabel("Temperature").fill("0.9");
    await page.getByLabel("Seed").fill("3");
    await generateAndWait(page);
    expect(Number(await page.getByTestId("num-tensors").getAttribute("data-value"))).toBe(tensors);

    // The WASM binary came from the dashboard, and nothing from anywhere else.
    expect(requests.filter((url) => /\/tfjs-wasm\/tfjs-backend-wasm[-\w]*\.wasm$/.test(url)).length).toBe(1);
    expect(requests.filter((url) => !url.startsWith(baseUrl) && !url.startsWith("data:"))).toEqual([]);
    expect(errors, errors.join("\n")).toEqual([]);
    await page.close();
  });

  it("runs on WebGL when asked to, with the same greedy tokens; a visitor not signed in gets no weights", async () => {
    const visitor = await openPage(browser);
    await visitor.page.goto(`${baseUrl}/playground?run=${runId}&checkpoint=${checkpointId}&backend=webgl`);
    // Not signed in: no weights leave the server (the page says why), and the server is not asked either.
    await visitor.page
      .getByText(/sign in to download a checkpoint's files/)
      .first()
      .waitFor({ timeout: 60_000 });
    expect(await visitor.page.getByTestId("model-ready").count()).toBe(0);
    expect(await visitor.page.getByLabel("Compare with the server").isDisabled()).toBe(true);
    await visitor.page.getByTestId("compare-sign-in").getByRole("link", { name: "Sign in" }).waitFor();
    await visitor.page.close();

    const { page, errors } = await openPage(signedIn);
    await page.goto(`${baseUrl}/playground?run=${runId}&checkpoint=${checkpointId}&backend=webgl`);
    await page.getByTestId("model-ready").waitFor({ timeout: 60_000 });
    expect(await page.getByTestId("backend").textContent()).toBe("webgl");
    expect(await page.getByLabel("Backend").inputValue()).toBe("webgl");
    await page.getByLabel("Compare with the server").uncheck();
    await page.getByLabel("Prompt", { exact: true }).fill(PROMPT);
    // Software WebGL is slow: a greedy prefix is enough to compare.
    await page.getByLabel("Max new tokens").fill("8");
    await generateAndWait(page);
    expect(await tokensOf(page, "browser-output")).toEqual(expected.tokens.slice(0, 8));
    expect(await page.getByTestId("server-output").textContent()).toContain("comparison off");
    expect(errors, errors.join("\n")).toEqual([]);
    await page.close();
  });

  it("is linked from each checkpoint of a run's page", async () => {
    const { page, errors } = await openPage(signedIn);
    await page.goto(`${baseUrl}/runs/${runId}?tab=checkpoints`);
    await page.getByRole("link", { name: "Step 100 in the playground" }).click();
    await page.waitForURL(`${baseUrl}/playground?run=${runId}&checkpoint=${checkpointId}`);
    await page.getByTestId("model-ready").waitFor({ timeout: 60_000 });
    expect(errors, errors.join("\n")).toEqual([]);
    await page.close();
  });

  it("disposes a model when another checkpoint is picked, even in the middle of a generation", async () => {
    const { page, errors } = await openPage(signedIn);
    await page.goto(`${baseUrl}/playground?run=${runId}&checkpoint=${checkpointId}`);
    await page.getByTestId("model-ready").waitFor({ timeout: 60_000 });
    await page.getByLabel("Prompt", { exact: true }).fill(PROMPT);
    await page.getByLabel("Max new tokens").fill("4");
    await generateAndWait(page);
    const tensors = Number(await page.getByTestId("num-tensors").getAttribute("data-value"));

    await page.getByLabel("Max new tokens").fill("240");
    await page.getByRole("button", { name: "Generate" }).click();
    await page.locator('[data-testid="browser-output"][data-state="running"]').waitFor();
    await page.getByLabel("Checkpoint").selectOption(earlierCheckpointId);
    await page.waitForURL(`${baseUrl}/playground?run=${runId}&checkpoint=${earlierCheckpointId}`);
    await page.getByTestId("model-ready").waitFor({ timeout: 60_000 });
    expect(await page.getByTestId("browser-output").getAttribute("data-state")).toBe("empty");
    await page.getByLabel("Max new tokens").fill("4");
    await generateAndWait(page);
    expect(await tokensOf(page, "browser-output")).toEqual(expected.tokens.slice(0, 4));
    expect(Number(await page.getByTestId("num-tensors").getAttribute("data-value"))).toBe(tensors);
    expect(errors, errors.join("\n")).toEqual([]);
    await page.close();
  });

  it("stops a generation with Stop", async () => {
    const { page, errors } = await openPage(signedIn);
    await page.goto(`${baseUrl}/playground?run=${runId}`);
    // Without a checkpoint in the link the run's final one is taken, and put in the address.
    await page.getByTestId("model-ready").waitFor({ timeout: 60_000 });
    expect(page.url()).toContain(`checkpoint=${checkpointId}`);
    await page.getByLabel("Prompt", { exact: true }).fill(PROMPT);
    await page.getByLabel("Max new tokens").fill("240");
    await page.getByRole("button", { name: "Generate" }).click();
    await page.locator('[data-testid="browser-output"][data-state="running"]').waitFor();
    await page.getByRole("button", { name: "Stop" }).click();
    await page.locator('[data-testid="browser-output"][data-state="done"]').waitFor({ timeout: 30_000 });
    const stopped = await tokensOf(page, "browser-output");
    expect(stopped.length).toBeLessThan(240 - PROMPT.length);
    expect(await page.getByTestId("browser-output").textContent()).toContain("stopped");
    expect(errors, errors.join("\n")).toEqual([]);
    await page.close();
  });
});
