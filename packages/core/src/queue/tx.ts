import { drizzle } from "drizzle-orm/node-postgres";
import type pg from "pg";
import type { Database, Db } from "../db/open";
import * as schema from "../db/schema";

/** One transaction: drizzle for typed queries and the raw client for pg-boss, on the same connection. */
export interface Tx {
  db: Db;
  client: pg.PoolClient;
}

/** Run `fn` in a transaction on one pooled connection; commit on return, roll back on throw. */
export async function transaction<T>(database: Database, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const client = await database.pool.connect();
  try {
    await client.query("begin");
    const result = await fn({ db: drizzle(client, { schema }) as unknown as Db, client });
    await client.query("commit");
    return result;
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
