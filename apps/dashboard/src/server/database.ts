import type { Database, Db } from "@rlhf/core/db";

/**
 * The `Database` (pool and all) behind a tRPC context's drizzle instance, for the @rlhf/core functions that
 * need more than drizzle: launching and cancelling (a transaction on one connection, pg-boss on the pool)
 * and the series reads (raw SQL on the pool). One object per pool, so pg-boss is started once per process.
 */
const byDb = new WeakMap<Db, Database>();

export function databaseOf(db: Db, mode: Database["mode"]): Database {
  let database = byDb.get(db);
  if (!database) {
    database = {
      db,
      pool: poolOf(db),
      // Not used by launch/cancel (pg-boss runs its queries through the pool); only child processes need it.
      url: "",
      mode,
      close: async () => {},
    };
    byDb.set(db, database);
  }
  return database;
}

/** drizzle's node-postgres instance keeps its pool as `$client`. */
export function poolOf(db: Db): Database["pool"] {
  return (db as unknown as { $client: Database["pool"] }).$client;
}
