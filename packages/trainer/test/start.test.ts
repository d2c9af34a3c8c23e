import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
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

describe("rlhf start (README's first command, after the install)", () => {
  it("brings up the embedded database, demo data, both apps and a worker; Ctrl-C stops all of it; a second start reuses the data", async () => {
    for (const app of ["dashboard", "labeler"]) {
      expect(
        existsSync(path.join(root, "apps", app, ".next", "BUILD_ID")),
        `${app} is built (pnpm build)`,
      ).toBe(true);
    }
    const home = mkdtempSync(path.join(os.tmpdir(), "rlhf-start-"));
    const env = { ...process.env, RLHF_HOME: home, DATABASE_URL: "", RLHF_QUIET: "" };

    for (const round of [1, 2]) {
      const [dashboardPort, labelerPort] = [await freePort(), await freePort()];
      let output = "";
      const child = spawn(
        process.execPath,
        [bin, "start", "--dashboard-port", String(dashboardPort), "--labeler-port", String(labelerPort)],
        { cwd: root, env },
      );
      child.stdout!.on("data", (d) => (output += d));
      child.stderr!.on("data", (d) => (output += d));
      await waitFor(child, () => output, /ready\. Ctrl-C stops everything/, 180_000);
      expect(output).toContain(round === 1 ? "demo data: seeded" : "demo data: present");
      expect(output).toContain(`http://localhost:${dashboardPort}`);

      const dashboard = await fetch(`http://127.0.0.1:${dashboardPort}/`);
      expect(dashboard.status).toBe(200);
      expect(await dashboard.text()).toContain("RLHF Workbench");
      const health = await fetch(`http://127.0.0.1:${labelerPort}/api/trpc/health.status`);
      const body = JSON.stringify(await health.json());
      expect(body).toContain('"mode":"external"'); // the apps get the launcher's connection string
      expect(body).toMatch(/"datasets":[4-9]/);

      const pidFile = path.join(home, "postgres", "postmaster.pid");
      const serverPid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
      child.kill("SIGINT");
      await new Promise((r) => child.once("exit", r));
      expect(output).toContain("stopped");
      // The database server is gone, cleanly (no postmaster.pid left behind).
      expect(existsSync(pidFile)).toBe(false);
      expect(isRunning(serverPid)).toBe(false);
      await expect(fetch(`http://127.0.0.1:${dashboardPort}/`)).rejects.toThrow();
    }
  });
});
