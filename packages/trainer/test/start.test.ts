import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../..");
const bin = path.join(root, "packages", "trainer", "bin", "rlhf.mjs");

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function waitFor(
  child: ChildProcess,
  output: () => string,
  pattern: RegExp,
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (pattern.test(output())) {
        clearInterval(timer);
        resolve();
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`exited ${child.exitCode} before ${pattern}:\n${output()}`));
      }
    }, 200);
    setTimeout(() => {
      clearInterval(timer);
      reject(new Error(`timed out waiting for ${pattern}:\n${output()}`));
    }, timeoutMs);
  });
}

/** Alive and not a zombie (a container's init may be slow to reap the detached server). */
function isRunning(pid: number): boolean {
  const status = `/proc/${pid}/status`;
  if (existsSync(status)) return !/^State:\s+Z/m.test(readFileSync(status, "utf8"));
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `rlhf <args>` to its end, on the workbench in `home`. */
function rlhf(
  env: NodeJS.ProcessEnv,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

async function poll<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

interface RunDetail {
  run: { status: string; step: number; attempts: number };
  checkpoints: { step: number }[];
}

const started: ChildProcess[] = [];
// A failed test stops what it started the way a person would, with Ctrl-C (start then stops its apps,
// worker and database); a round still running is in a process group of its own or is start itself.
afterEach(async () => {
  for (const child of started.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((r) => child.once("exit", r));
    try {
      process.kill(-child.pid!, "SIGINT");
    } catch {
      child.kill("SIGINT");
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 60_000))]);
  }
});

describe("rlhf start (README's first command, after the install)", () => {
  it("brings up the embedded database, demo data, both apps and a worker; Ctrl-C (to the process group, as a terminal sends it) checkpoints the running job, re-queues it and exits 0; a second start resumes it", async () => {
    for (const app of ["dashboard", "labeler"]) {
      expect(
        existsSync(path.join(root, "apps", app, ".next", "BUILD_ID")),
        `${app} is built (pnpm build)`,
      ).toBe(true);
    }
    const home = mkdtempSync(path.join(os.tmpdir(), "rlhf-start-"));
    const env = { ...process.env, RLHF_HOME: home, DATABASE_URL: "", RLHF_QUIET: "" };
    const config = path.join(home, "long-pretrain.json");
    writeFileSync(
      config,
      JSON.stringify({
        ...JSON.parse(readFileSync(path.join(here, "fixtures", "pretrain-tiny.json"), "utf8")),
        maxSteps: 100_000,
        checkpointEvery: 5,
        evalEvery: 100_000,
      }),
    );
    const show = async () =>
      JSON.parse((await rlhf(env, ["runs", "show", "long", "--json"])).stdout) as RunDetail;

    // The last checkpoint the previous round left (its Ctrl-C wrote it): where round 2 must resume.
    let lastCheckpoint = 0;
    for (const round of [1, 2]) {
      const [dashboardPort, labelerPort] = [await freePort(), await freePort()];
      let output = "";
      const ports = ["--dashboard-port", String(dashboardPort), "--labeler-port", String(labelerPort)];
      // Round 1 as a person types it: `pnpm rlhf start` in the foreground of a terminal, i.e. a process
      // group of its own that Ctrl-C signals as a whole. Round 2 signals the start process alone.
      const child =
        round === 1
          ? spawn("pnpm", ["rlhf", "start", ...ports], { cwd: root, env, detached: true })
          : spawn(process.execPath, [bin, "start", ...ports], { cwd: root, env });
      started.push(child);
      child.stdout!.on("data", (d) => (output += d));
      child.stderr!.on("data", (d) => (output += d));
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      await waitFor(child, () => output, /ready\. Ctrl-C stops everything/, 180_000);
      expect(output).toContain(round === 1 ? "demo data: seeded" : "demo data: present");
      expect(output).toMatch(new RegExp(`http://(localhost|127\\.0\\.0\\.1):${dashboardPort}`));
      // `rlhf users invite` links to this labeler, not to a default port.
      const invite = await rlhf(env, ["users", "invite", "--email", `round${round}@example.com`]);
      expect(invite.stdout).toMatch(new RegExp(`^http://(localhost|127\\.0\\.0\\.1):${labelerPort}/invite/`));

      const dashboard = await fetch(`http://127.0.0.1:${dashboardPort}/`);
      expect(dashboard.status).toBe(200);
      expect(await dashboard.text()).toContain("RLHF Workbench");
      const health = await fetch(`http://127.0.0.1:${labelerPort}/api/trpc/health.status`);
      const body = JSON.stringify(await health.json());
      // The apps get the launcher's connection string, and are told it is the embedded server.
      expect(body).toContain('"mode":"embedded"');
      expect(body).toMatch(/"datasets":[4-9]/);

      if (round === 1) {
        const launched = await rlhf(env, ["launch", "pretrain", "--config", config, "--name", "long"]);
        expect(launched.code, launched.stderr).toBe(0);
      }
      // The worker runs it (round 2: from the checkpoint round 1 left) past a checkpoint of this attempt.
      const before = lastCheckpoint;
      await poll(
        async () => {
          const detail = await show();
          return detail.run.status === "running" && detail.checkpoints.some((c) => c.step > before)
            ? detail
            : undefined;
        },
        `round ${round}: a checkpoint of the running job after step ${before}`,
        120_000,
      );

      const pidFile = path.join(home, "postgres", "postmaster.pid");
      const serverPid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
      if (round === 1) process.kill(-child.pid!, "SIGINT");
      else child.kill("SIGINT");
      expect(await exited, output).toBe(0);
      expect(output).toContain("stopped");
      expect(output).not.toMatch(/again, exiting now|ELIFECYCLE/);
      // The job checkpointed and went back to the queue: no failed attempt, nothing left running.
      const after = await show();
      expect(after.run.status).toBe("queued");
      expect(after.checkpoints.at(-1)!.step).toBeGreaterThan(before);
      lastCheckpoint = after.checkpoints.at(-1)!.step;
      const logs = (await rlhf(env, ["runs", "logs", "long"])).stdout;
      expect(logs).toContain("stopped for a worker shutdown; back in the queue");
      expect(logs).not.toMatch(/attempt failed/);
      if (round === 2) expect(logs).toMatch(new RegExp(`resuming from step ${before}\\b`));
      // The database server is gone, cleanly (no postmaster.pid left behind).
      expect(existsSync(pidFile)).toBe(false);
      expect(isRunning(serverPid)).toBe(false);
      await expect(fetch(`http://127.0.0.1:${dashboardPort}/`)).rejects.toThrow();
    }
  });
});
