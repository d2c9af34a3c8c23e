/**
 * What the apps' browser tests, the whole-loop test and the benchmarks share: a free port, an app's
 * production build served by `next start`, Debian's Chromium through playwright-core, pages that record
 * console errors, and stopping what they started.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { appServerNodeOptions } from "../auth/preload";
import { childEnv, coreEnv } from "../env";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");

/** Debian's Chromium (`apt-get install -y chromium`), or CHROMIUM_PATH. */
export const CHROMIUM_PATH = coreEnv().CHROMIUM_PATH ?? "/usr/bin/chromium";

/** The flags CI runs Chromium with: no sandbox (containers), no GPU, nothing that calls home. */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Chromium, after checking that it exists (with what to do if not). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}. Install it with \`apt-get install -y chromium\` (CI does), or point CHROMIUM_PATH at one.`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

/** Fails unless `appDir` holds a production build, saying which command makes it. */
export function assertProductionBuild(appDir: string): void {
  if (existsSync(path.join(appDir, ".next/BUILD_ID"))) return;
  const { name } = JSON.parse(readFileSync(path.join(appDir, "package.json"), "utf8")) as { name: string };
  throw new Error(
    `No production build in ${path.relative(REPO, appDir)}/.next: run \`pnpm --filter ${name} build\` first.`,
  );
}

/** Pushes the page's console errors and uncaught exceptions into `errors`, but those matching `ignore`. */
export function recordConsoleErrors(page: Page, errors: string[], ignore?: RegExp): void {
  page.on("console", (message) => {
    if (message.type() === "error" && !ignore?.test(message.text())) errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
}

/** A page that records console errors. */
export async function openPage(context: Browser | BrowserContext, viewport = { width: 1360, height: 860 }) {
  const page = await context.newPage({ viewport });
  const errors: string[] = [];
  recordConsoleErrors(page, errors);
  return { page, errors };
}

/** A PostgreSQL URL on a port nothing listens on, for the apps' "database unreachable" page. */
export async function unreachableDatabaseUrl(): Promise<string> {
  return `postgres://postgres@127.0.0.1:${await freePort()}/nothing`;
}

/**
 * Checks an app served on `unreachableDatabaseUrl()`: its first page says the database is unreachable, at
 * which URL, why, and what to check, and the status badge says so too.
 */
export async function expectDatabaseUnreachable(browser: Browser, baseUrl: string): Promise<void> {
  const page = await browser.newPage();
  try {
    await page.goto(baseUrl);
    // Next's route announcer is an (empty) alert too.
    const alert = page.getByRole("alert").filter({ hasText: "Could not load" }).first();
    await alert.waitFor({ timeout: 15_000 });
    const text = (await alert.textContent()) ?? "";
    const expected = [
      /Database unreachable: Cannot connect to PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1/,
      /ECONNREFUSED/,
      /DATABASE_URL/,
    ];
    for (const pattern of expected) {
      if (!pattern.test(text))
        throw new Error(`The alert does not match ${pattern}: ${JSON.stringify(text)}`);
    }
    await page.getByTestId("database-status").getByText("unreachable", { exact: true }).waitFor();
  } finally {
    await page.close();
  }
}

export interface NextAppOptions {
  /** The app's folder (apps/dashboard, apps/labeler), with its production build in .next. */
  appDir: string;
  /** Added to this process's environment: DATABASE_URL, BETTER_AUTH_SECRET, … */
  env: Record<string, string | undefined>;
  /**
   * The server's output: kept, for the error if it does not start (tests); or its stderr passed through
   * (benchmarks, which run long enough that keeping it would grow without end).
   */
  output?: "keep" | "stderr";
  timeoutMs?: number;
}

/** `next start` of an app's production build on a free port; resolves once it answers HTTP. */
export async function startNextApp({
  appDir,
  env,
  output = "keep",
  timeoutMs = 60_000,
}: NextAppOptions): Promise<{ baseUrl: string; server: ChildProcess }> {
  assertProductionBuild(appDir);
  const next = createRequire(path.join(appDir, "package.json")).resolve("next/dist/bin/next");
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const server = spawn(process.execPath, [next, "start", "-p", String(port), "-H", "127.0.0.1"], {
    cwd: appDir,
    env: childEnv({
      ...env,
      NODE_ENV: "production",
      NEXT_TELEMETRY_DISABLED: "1",
      // As `rlhf start` runs it: the client's address from the connection, for the sign-in rate limit.
      NODE_OPTIONS: appServerNodeOptions(env.NODE_OPTIONS ?? coreEnv().NODE_OPTIONS),
    }),
    stdio: output === "keep" ? ["ignore", "pipe", "pipe"] : ["ignore", "ignore", "inherit"],
    detached: true, // its own process group, so stopProcess ends it and anything it started
  });
  let printed = "";
  server.stdout?.on("data", (chunk) => {
    printed += chunk;
  });
  server.stderr?.on("data", (chunk) => {
    printed += chunk;
  });

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`next start exited with ${server.exitCode}:\n${printed}`);
    try {
      await fetch(`${baseUrl}/icon.svg`);
      return { baseUrl, server };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  await stopProcess(server);
  throw new Error(`next start did not answer on ${baseUrl} within ${timeoutMs / 1000} s:\n${printed}`);
}

/** SIGTERM to the child's process group, SIGKILL after 5 s. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.kill(-child.pid, "SIGTERM");
  const timer = setTimeout(() => child.pid && process.kill(-child.pid, "SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}
