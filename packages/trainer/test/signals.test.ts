/**
 * Signals as a terminal and a process manager send them, to `pnpm rlhf …` as typed: Ctrl-C is SIGINT to
 * the whole process group (pnpm passes it on too, so the program may see it twice at once); a process
 * manager sends SIGTERM to the PID it started, pnpm's. Either way the node program stops cleanly.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { launchRun } from "@rlhf/core/queue";
import { checkpoints } from "@rlhf/core/schema";
import type { TestDatabase } from "@rlhf/core/testing";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { isAlive, tinyPretrain, waitFor, workerTestDatabase } from "./fixtures/processes";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
let t: TestDatabase;
const { runRow } = workerTestDatabase((database) => {
  t = database;
});

const started: ChildProcess[] = [];
// A failed test leaves nothing running: each pnpm leads a process group, its program included.
afterEach(() => {
  for (const child of started.splice(0)) {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

/** `pnpm rlhf <args>` from the checkout, in a process group of its own (a terminal's foreground job). */
function pnpmRlhf(args: string[]) {
  const child = spawn("pnpm", ["rlhf", ...args], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: t.url, RLHF_QUIET: "1" },
    detached: true,
  });
  started.push(child);
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** The node program pnpm runs (its only child: the root script execs it). */
function programPid(pnpm: ChildProcess): number {
  // Any of pnpm's threads may have started it: each lists its own children.
  const children = readdirSync(`/proc/${pnpm.pid}/task`)
    .flatMap((task) => readFileSync(`/proc/${pnpm.pid}/task/${task}/children`, "utf8").trim().split(/\s+/))
    .filter(Boolean);
  expect(children).toHaveLength(1);
  const pid = Number(children[0]);
  expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).toContain("bin/rlhf.mjs");
  return pid;
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

describe("stop signals through pnpm", () => {
  it("pnpm rlhf worker: Ctrl-C to the group checkpoints the job, re-queues it, exits 0; then serve stops on SIGTERM to pnpm's PID", async () => {
    const run = await launchRun(t, {
      kind: "pretrain",
      config: tinyPretrain({ maxSteps: 100_000, checkpointEvery: 5, evalEvery: 100_000 }),
      name: "ctrl-c",
    });
    const worker = pnpmRlhf(["worker", "--poll", "300"]);
    await waitFor(
      async () => (await t.db.select().from(checkpoints).where(eq(checkpoints.runId, run.id))).length >= 1,
      { timeoutMs: 120_000, what: "a checkpoint", detail: worker.output },
    );
    const node = programPid(worker.child);
    process.kill(-worker.child.pid!, "SIGINT");
    expect(await worker.exited, worker.output()).toBe(0);
    expect(worker.output()).not.toMatch(/again, exiting now|ELIFECYCLE/);
    expect(isAlive(node)).toBe(false);
    const row = await runRow(run.id);
    expect(row.status).toBe("queued");
    expect(row.step).toBeGreaterThan(0);

    // A process manager's SIGTERM goes to the PID it started: pnpm's. The server must go with it.
    const port = await freePort();
    const serve = pnpmRlhf(["serve", "--run", "ctrl-c", "--port", String(port), "--backend", "cpu"]);
    await waitFor(async () => /url\s+http/.test(serve.output()), {
      timeoutMs: 60_000,
      what: "the server",
      detail: serve.output,
    });
    expect(await portOpen(port)).toBe(true);
    const server = programPid(serve.child);
    process.kill(serve.child.pid!, "SIGTERM");
    expect(await serve.exited, serve.output()).toBe(0);
    expect(serve.output()).toContain("SIGTERM: closing the server");
    await waitFor(async () => !isAlive(server), { timeoutMs: 5000, what: "the server process to exit" });
    expect(await portOpen(port)).toBe(false);
  });

  it("pnpm rlhf worker: SIGTERM to pnpm's PID stops the worker (not only pnpm)", async () => {
    const worker = pnpmRlhf(["worker", "--poll", "300"]);
    await waitFor(async () => /taking up to/.test(worker.output()), {
      timeoutMs: 60_000,
      what: "the worker",
      detail: worker.output,
    });
    const node = programPid(worker.child);
    process.kill(worker.child.pid!, "SIGTERM");
    expect(await worker.exited, worker.output()).toBe(0);
    await waitFor(async () => !isAlive(node), { timeoutMs: 5000, what: "the worker process to exit" });
    expect(worker.output()).toMatch(/worker stopped|stopped/);
  });
});
