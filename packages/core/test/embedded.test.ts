import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { acquireEmbeddedServer } from "../src/db/embedded";

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const client = path.join(here, "fixtures", "embedded-client.ts");
// `node --import tsx` keeps the client one process, so a SIGKILL really kills it (the tsx binary forks).
const node = process.execPath;
const nodeArgs = (...args: string[]) => ["--import", "tsx", client, ...args];
const cwd = path.join(here, "..");

// These tests are about the embedded server itself, so they run it whatever DATABASE_URL says.
const env = { ...process.env, DATABASE_URL: "", RLHF_QUIET: "1" };

function serverPid(home: string): number | undefined {
  const pidFile = path.join(home, "postgres", "postmaster.pid");
  if (!existsSync(pidFile)) return undefined;
  return Number(readFileSync(pidFile, "utf8").split("\n")[0]);
}

describe("embedded PostgreSQL", () => {
  it("is shared by concurrent processes: one server, every transaction kept, stopped after the last exits", async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), "rlhf-embedded-"));
    const writers = ["a", "b", "c"].map((label) =>
      run(node, nodeArgs(home, label, "200"), { cwd, env: { ...env, HOLD_MS: "300" } }),
    );
    const outputs = await Promise.all(writers);
    const reports = outputs.map((o) => JSON.parse(o.stdout.trim().split("\n").pop()!));
    expect(new Set(reports.map((r) => r.port)).size).toBe(1);
    expect(reports.every((r) => r.mode === "embedded")).toBe(true);
    // Every process has left: the server is stopped.
    expect(serverPid(home)).toBeUndefined();

    // Starting again reuses the same data.
    const server = await acquireEmbeddedServer(home);
    const c = new pg.Client({ connectionString: server.url });
    await c.connect();
    const { rows } = await c.query("select who, count(*)::int as n from writes group by who order by who");
    await c.end();
    await server.release();
    expect(rows).toEqual([
      { who: "a", n: 200 },
      { who: "b", n: 200 },
      { who: "c", n: 200 },
    ]);
    expect(serverPid(home)).toBeUndefined();
  });

  it("keeps running while another process still holds a lease, and survives a client killed with SIGKILL", async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), "rlhf-embedded-"));
    const holder = await acquireEmbeddedServer(home);
    const pid = serverPid(home);
    expect(pid).toBeGreaterThan(0);
    // A second "start" attaches to the running server instead of starting one on the same data.
    const second = await run(node, nodeArgs(home, "second", "5"), { cwd, env });
    expect(JSON.parse(second.stdout.trim()).port).toBe(holder.port);
    expect(serverPid(home)).toBe(pid);

    // A process killed outright leaves a stale lease; it is pruned and does not keep the server alive.
    const child = execFile(node, nodeArgs(home, "killed", "1"), { cwd, env: { ...env, HOLD_MS: "60000" } });
    await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
    process.kill(child.pid!, "SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(serverPid(home)).toBe(pid);
    await holder.release();
    expect(serverPid(home)).toBeUndefined();
  });

  it("moves to another port when its port is taken, and says so", async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), "rlhf-embedded-"));
    const blocker = net.createServer();
    const taken = await new Promise<number>((resolve) =>
      blocker.listen(0, "127.0.0.1", () => resolve((blocker.address() as net.AddressInfo).port)),
    );
    const previous = process.env.RLHF_DB_PORT;
    process.env.RLHF_DB_PORT = String(taken);
    try {
      const server = await acquireEmbeddedServer(home);
      expect(server.port).not.toBe(taken);
      await server.release();
    } finally {
      process.env.RLHF_DB_PORT = previous;
      blocker.close();
    }
  });
});
