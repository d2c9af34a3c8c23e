import { drizzle } from "drizzle-orm/node-postgres";
import type pg from "pg";
import type { Database, Db } from "../db/open";
import * as schema from "../db/schema";
import { poolTransaction } from "../db/transaction";

/** One transaction: drizzle for typed queries and the raw client for pg-boss, on the same connection. */
export interface Tx {
  db: Db;
  client: pg.PoolClient;
}

/**
 * Run `fn` in a transaction on one pooled connection; commit on return, roll back on throw (a connection
 * that cannot roll back is discarded).
 */
export function transaction<T>(database: Database, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return poolTransaction(database.pool, (client) =>
    fn({ db: drizzle(client, { schema }) as unknown as Db, client }),
  );
}
