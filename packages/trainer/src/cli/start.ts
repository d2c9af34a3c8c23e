/**
 * `rlhf start`: the whole workbench on one machine. Opens the database (the embedded PostgreSQL unless
 * DATABASE_URL is set) and holds it for the session, seeds the demo project, starts the dashboard and the
 * labeler (`next start`) and one worker, and on Ctrl-C stops everything it started — the worker (which
 * hands its running job back to the queue), the apps, then the database. With `--build` (what `pnpm start`
 * runs) it first builds the apps (`turbo run build`, cached), and opens the database, seeds it and starts
 * the worker while they build, so that a first start waits for the slowest of those, not their sum.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { appServerNodeOptions } from "@rlhf/core/auth/preload";
import { openDatabase, redactUrl, workbenchHome, workspaceRoot } from "@rlhf/core/db";
import { type DemoLanguage, seedDemo } from "@rlhf/core/demo";
import { onStopSignals } from "../signals";
import { LABELER_URL_FILE } from "./users";

export interface StartOptions {
  dashboardPort: number;
  labelerPort: number;
  demo: boolean;
  /** The demo's language when it is first seeded (default English; a database holds one). */
  demoLanguage?: DemoLanguage;
  /** Interface the apps listen on: 127.0.0.1 (this machine only) unless `--host` says otherwise. */
  host?: string;
  /** With the apps reachable from elsewhere, let people without an account read them. */
  publicRead?: boolean;
  /** Build the apps first (`turbo run build`: both at once, cached), alongside the database's start. */
  build?: boolean;
}

interface Service {
  name: string;
  url: string;
  child: ChildProcess;
}

const say = (line: string) => process.stdout.write(`${line}\n`);

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "0.0.0.0", () => server.close(() => resolve(true)));
  });
}

async function choosePort(name: string, wanted: number): Promise<number> {
  for (let port = wanted; port < wanted + 50; port++) {
    if (await portFree(port)) {
      if (port !== wanted) say(`  ${name}: port ${wanted} is in use, using ${port}`);
      return port;
    }
  }
  throw new Error(`no free port for the ${name} between ${wanted} and ${wanted + 49}; pass --${name}-port`);
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`${url}: the server exited with code ${child.exitCode} before it was ready`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
      if (response.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
}

function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/**
 * `turbo run build` of the workspace (both apps at once; a cached build is restored, not redone), its output
 * passed through. Resolves when it succeeded; never rejects, so that it can run unawaited for a while.
 */
function runBuild(root: string): Promise<Error | undefined> {
  const turbo = path.join(root, "node_modules", ".bin", "turbo");
  const child = spawn(turbo, ["run", "build"], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  return new Promise((resolve) => {
    child.once("error", (error) => resolve(error));
    child.once("exit", (code, signal) =>
      resolve(code === 0 ? undefined : new Error(`the build failed (${signal ?? `exit code ${code}`})`)),
    );
  });
}

/** How to reach an app listening on `host` from this machine. */
function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "::") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

export async function start(options: StartOptions): Promise<void> {
  const root = workspaceRoot(process.cwd());
  if (!root)
    throw new Error(
      "rlhf start must run inside the workbench checkout (no pnpm-workspace.yaml above the working directory)",
    );
  const home = workbenchHome();

  say("RLHF Workbench");
  const building = options.build ? runBuild(root) : undefined;
  const database = await openDatabase({ home });
  say(
    `  database:  ${database.mode === "embedded" ? `embedded PostgreSQL, data in ${path.join(home, "postgres")}` : redactUrl(database.url)}`,
  );
  if (options.demo) {
    const { created, language } = await seedDemo(database.db, { language: options.demoLanguage });
    say(`  demo data: ${created ? "seeded" : "present"}${language === "zh" ? " (Chinese)" : ""}`);
  }

  const services: Service[] = [];
  let workerProcess: ChildProcess | undefined;
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say("\nstopping the workbench…");
    // The worker first: it checkpoints its running job and hands it back to the queue.
    if (workerProcess) await stopChild(workerProcess, 65_000);
    await Promise.all(services.map((s) => stopChild(s.child, 10_000)));
    await database.close();
    say("stopped");
    process.exit(code);
  };
  // The apps and the worker run in process groups of their own, so a terminal's Ctrl-C (SIGINT to the
  // whole foreground group) reaches only this process, which stops them in order and once. Were they in
  // ours, each would get the Ctrl-C at the same moment and the worker our SIGTERM as a second signal,
  // which means "exit now" (no checkpoint). A second Ctrl-C here is that hurry, on purpose.
  onStopSignals((signal, press) => {
    if (press === 1) return void stopAll(0);
    say(`${signal} again: the worker exits now (its running job is re-queued when its heartbeat lapses)`);
    workerProcess?.kill("SIGTERM");
  });
  // Their own process groups also mean that nothing stops them if this process dies without stopping
  // them (an uncaught error, a closed output pipe): take them down on any exit but SIGKILL.
  process.once("exit", () => {
    for (const child of [workerProcess, ...services.map((s) => s.child)]) {
      if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    }
  });

  const host = options.host ?? "127.0.0.1";
  const apps = [
    { name: "dashboard", port: options.dashboardPort },
    { name: "labeler", port: options.labelerPort },
  ];
  try {
    // One worker, so jobs launched from the dashboard or `rlhf launch` run.
    const bin = path.join(root, "packages", "trainer", "bin", "rlhf.mjs");
    const worker = spawn(process.execPath, [bin, "worker"], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: database.url, RLHF_DB_MODE: database.mode, RLHF_HOME: home },
      stdio: ["ignore", "inherit", "inherit"],
      detached: true,
    });
    worker.once("exit", (code, signal) => {
      if (!stopping) {
        say(`the worker exited (${signal ?? `code ${code}`}); stopping the rest`);
        void stopAll(1);
      }
    });
    workerProcess = worker;
    const failed = await building;
    if (failed) throw failed;
    for (const app of apps) {
      const dir = path.join(root, "apps", app.name);
      if (!existsSync(path.join(dir, ".next", "BUILD_ID"))) {
        throw new Error(`the ${app.name} is not built; run \`pnpm build\` (pnpm start does it for you)`);
      }
      const port = await choosePort(app.name, app.port);
      const next = path.join(dir, "node_modules", ".bin", "next");
      const child = spawn(next, ["start", "--port", String(port), "--hostname", host], {
        cwd: dir,
        env: {
          ...process.env,
          DATABASE_URL: database.url,
          RLHF_DB_MODE: database.mode,
          RLHF_HOME: home,
          NEXT_TELEMETRY_DISABLED: "1",
          PORT: String(port),
          // Who a request comes from is the connection's peer (the sign-in rate limit's key), and what a
          // stranger may read depends on whether the app is reachable beyond this machine.
          NODE_OPTIONS: appServerNodeOptions(),
          RLHF_HOST: host,
          RLHF_PUBLIC_READ: options.publicRead ? "1" : "0",
        },
        stdio: ["ignore", "inherit", "inherit"],
        detached: true,
      });
      child.once("exit", (code, signal) => {
        if (!stopping) {
          say(`the ${app.name} exited (${signal ?? `code ${code}`}); stopping the rest`);
          void stopAll(1);
        }
      });
      services.push({ name: app.name, url: `http://${urlHost(host)}:${port}`, child });
    }
    await Promise.all(services.map((s) => waitForHttp(s.url, s.child, 120_000)));
  } catch (error) {
    say(`failed to start: ${(error as Error).message}`);
    await stopAll(1);
    return;
  }

  say("");
  for (const s of services) say(`  ${s.name.padEnd(10)} ${s.url}`);
  const labelerUrl = services.find((s) => s.name === "labeler")?.url;
  // `rlhf users invite` links to the port the labeler really has (it may not be 3001).
  if (labelerUrl) writeFileSync(path.join(home, LABELER_URL_FILE), `${labelerUrl}\n`);
  say(`  ${"worker".padEnd(10)} 1 (runs jobs launched from the dashboard or \`pnpm rlhf launch\`)`);
  const { countAdmins } = await import("@rlhf/core/auth");
  if ((await countAdmins(database.db)) === 0) {
    const labeler = services.find((s) => s.name === "labeler");
    say(
      `\nno admin yet: create the first one at ${labeler?.url}/setup (or \`pnpm rlhf users create-admin\`)`,
    );
  }
  say("\nready. Ctrl-C stops everything.");
}
