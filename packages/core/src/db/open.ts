import path from "node:path";
import { fileURLToPath } from "node:url";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { coreEnv } from "../env";
import { acquireEmbeddedServer } from "./embedded";
import { workbenchHome } from "./home";
import * as schema from "./schema";

export type Db = NodePgDatabase<typeof schema>;

export interface Database {
  /** Drizzle over the pool, with the whole schema for relational queries. */
  db: Db;
  pool: pg.Pool;
  /** The connection string (hand it to child processes and to pg-boss). */
  url: string;
  /** "external" when DATABASE_URL chose the server, "embedded" when the workbench runs its own. */
  mode: "external" | "embedded";
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** Connection string; defaults to DATABASE_URL, and without it the embedded server. */
  url?: string;
  /** Workbench home for the embedded server; defaults to RLHF_HOME or `.rlhf/`. */
  home?: string;
  /** Apply pending migrations (default true). Safe to run from many processes at once. */
  migrate?: boolean;
  /** Pool size (default 10). */
  max?: number;
}

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../drizzle");

// Any constant works; it only has to be the same in every process of the workbench.
const MIGRATION_LOCK_KEY = 7_470_001;

/**
 * Connect to the workbench's PostgreSQL: `DATABASE_URL` when set, otherwise the embedded server under
 * the workbench home (started if needed, shared with the workbench's other processes, stopped when the
 * last of them exits). Migrations are applied on open; re-applying is a no-op.
 */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  const env = coreEnv();
  const explicitUrl = options.url || env.DATABASE_URL || undefined;
  const embedded = explicitUrl ? undefined : await acquireEmbeddedServer(options.home ?? workbenchHome());
  const url = explicitUrl ?? embedded!.url;

  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: 15_000,
  });
  guardPool(pool);
  try {
    await pool.query("select 1");
  } catch (error) {
    await pool.end().catch(() => {});
    await embedded?.release();
    throw new Error(`Cannot connect to PostgreSQL at ${redactUrl(url)}: ${(error as Error).message}`, {
      cause: error,
    });
  }

  const db = drizzle(pool, { schema });
  if (options.migrate !== false) {
    try {
      await applyMigrations(db, pool);
    } catch (error) {
      await pool.end().catch(() => {});
      await embedded?.release();
      throw error;
    }
  }

  let closed = false;
  return {
    db,
    pool,
    url,
    // `rlhf start` hands its embedded server's URL to the apps and the worker, saying so: still embedded.
    mode: embedded || env.RLHF_DB_MODE === "embedded" ? "embedded" : "external",
    close: async () => {
      if (closed) return;
      closed = true;
      await pool.end();
      await embedded?.release();
    },
  };
}

/**
 * A server restart must never crash a process through an unhandled `error` event. The pool emits one for
 * an idle client that loses its server (the pool drops that client; the next query reconnects). A client
 * checked out with `pool.connect()` — a transaction — has no listener of its own while it is out: pg-pool
 * removes its idle listener, and pg then emits the socket error on the client even when the query in
 * flight already rejected with it. Every client gets a listener for its whole life; the query (or the
 * next one, "not queryable") reports the failure, and the pool discards the broken client on release.
 */
export function guardPool(pool: pg.Pool): void {
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
}

/** Apply the committed migrations; an advisory lock lets many processes start at once. */
export async function applyMigrations(db: Db, pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("select pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    await migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  } finally {
    await client.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => {});
    client.release();
  }
}

/** A connection string safe to print: the password replaced by ***. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable connection string)";
  }
}
