/**
 * The dashboard as a person sees it: the production build served by `next start` against a fresh
 * database, driven by a real Chromium. `pnpm test` builds first.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runs } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const APP_DIR = fileURLToPath(new URL("..", import.meta.url));
const SCREENSHOT = path.resolve(APP_DIR, "../../docs/images/dashboard-home.png");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

let t: TestDatabase;
let browser: Browser;
const servers: ChildProcess[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}. Install it with \`apt-get install -y chromium\` (CI does), or point CHROMIUM_PATH at one.`,
    );
  }
  if (!existsSync(path.join(APP_DIR, ".next/BUILD_ID"))) {
    throw new Error(
      "No production build in apps/dashboard/.next: run `pnpm --filter @rlhf/dashboard build` first.",
    );
  }
  t = await createTestDatabase("rlhf_dashboard_e2e");
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(servers.map(stopServer));
  await t?.drop();
});

describe("dashboard home", () => {
  let baseUrl: string;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    baseUrl = await startServer(t.url);
    page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(message.text());
    });
    page.on("pageerror", (error) => consoleErrors.push(error.message));
  });

  it("shows the database status card and how to start a first run", async () => {
    await page.goto(baseUrl);
    const card = page.getByTestId("database-status");
    await card.getByText("connected").waitFor();
    expect(await card.textContent()).toMatch(/DATABASE_URL.*PostgreSQL \d+.*\d+ applied/);
    await page.getByText("pnpm rlhf pipeline --demo").waitFor();
    expect(await page.title()).toBe("RLHF Workbench — Dashboard");
  });

  it("shows a run inserted after the page loaded, without a reload", async () => {
    // A reload would drop this marker.
    await page.evaluate(() => Object.assign(window, { __sameDocument: true }));
    const started = new Date(Date.now() - 95_000);
    await t.db.insert(runs).values([
      {
        name: "demo-pretrain",
        kind: "pretrain",
        status: "succeeded",
        config: {},
        backend: "wasm",
        step: 2000,
        totalSteps: 2000,
        createdAt: new Date(Date.now() - 600_000),
        startedAt: new Date(Date.now() - 590_000),
        finishedAt: new Date(Date.now() - 400_000),
      },
      {
        name: "demo-reward",
        kind: "reward",
        status: "failed",
        config: {},
        backend: "wasm",
        step: 40,
        totalSteps: 300,
        createdAt: new Date(Date.now() - 300_000),
        startedAt: new Date(Date.now() - 290_000),
        finishedAt: new Date(Date.now() - 280_000),
      },
      {
        name: "demo-ppo",
        kind: "ppo",
        status: "running",
        config: {},
        backend: "wasm",
        step: 120,
        totalSteps: 500,
        createdAt: started,
        startedAt: started,
      },
      { name: "demo-dpo", kind: "dpo", status: "queued", config: {} },
    ]);

    const row = page.getByRole("row", { name: /demo-ppo/ });
    await row.waitFor({ timeout: 10_000 });
    expect((await row.getByRole("cell").allInnerTexts()).slice(1, 5)).toEqual([
      "ppo",
      "running",
      "120 / 500",
      "wasm",
    ]);
    expect(await page.getByRole("row").count()).toBe(5); // header + 4 runs
    await page.getByTestId("database-status").getByText(/^4$/).waitFor();
    expect(await page.evaluate(() => (window as { __sameDocument?: boolean }).__sameDocument)).toBe(true);

    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(consoleErrors, consoleErrors.join("\n")).toEqual([]);
  });
});

describe("dashboard home without a database", () => {
  it("says the database is unreachable and what to check", async () => {
    const deadPort = await freePort();
    const baseUrl = await startServer(`postgres://postgres@127.0.0.1:${deadPort}/nothing`);
    const page = await browser.newPage();
    await page.goto(baseUrl);
    // Next's route announcer is an (empty) alert too.
    const alert = page.getByRole("alert").filter({ hasText: "Could not load" }).first();
    await alert.waitFor({ timeout: 15_000 });
    const text = (await alert.textContent()) ?? "";
    expect(text).toContain("Could not load");
    expect(text).toMatch(
      /Database unreachable: Cannot connect to PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1/,
    );
    expect(text).toContain("ECONNREFUSED");
    expect(text).toContain("DATABASE_URL");
    await page.getByTestId("database-status").getByText("unreachable", { exact: true }).waitFor();
    await page.close();
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}

/** `next start` on a free port with the given database; resolves once it answers HTTP. */
async function startServer(databaseUrl: string): Promise<string> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const server = spawn(
    process.execPath,
    [path.join(APP_DIR, "node_modules/next/dist/bin/next"), "start", "-p", String(port), "-H", "127.0.0.1"],
    {
      cwd: APP_DIR,
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        NODE_ENV: "production",
        NEXT_TELEMETRY_DISABLED: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group, so stopServer ends it and anything it started
    },
  );
  servers.push(server);
  let output = "";
  server.stdout!.on("data", (chunk) => {
    output += chunk;
  });
  server.stderr!.on("data", (chunk) => {
    output += chunk;
  });

  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`next start exited with ${server.exitCode}:\n${output}`);
    try {
      await fetch(`${baseUrl}/icon.svg`);
      return baseUrl;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`next start did not answer on ${baseUrl} within 60 s:\n${output}`);
}

async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null || !server.pid) return;
  const exited = new Promise((resolve) => server.once("exit", resolve));
  process.kill(-server.pid, "SIGTERM");
  const timer = setTimeout(() => server.pid && process.kill(-server.pid, "SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}
