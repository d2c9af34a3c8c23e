/**
 * The labeling hot path's statements, sent to PostgreSQL as named prepared statements: each connection
 * parses and plans a statement once and then only binds and executes it. Planning was most of the
 * database's CPU of a hand-out or an answer (0.3–0.6 ms per statement against 0.1–1 ms executing it, on a
 * bench-sized dataset), and the database shares the machine with the web server. The texts are constants
 * (a variable list is one array parameter), so one name always means one text, as node-postgres requires.
 * A connection pooler in transaction mode (PgBouncer before 1.21) does not keep prepared statements; the
 * workbench talks to PostgreSQL directly.
 */
import type pg from "pg";
import type { Db } from "../db/open";
import { poolTransaction } from "../db/transaction";

/** A pool, or one of its connections inside a transaction. */
export type Queryable = pg.Pool | pg.PoolClient | pg.Client;

export interface Statement {
  name: string;
  text: string;
}

/** A named statement; `name` is unique within the labeling statements. */
export const statement = (name: string, text: string): Statement => ({ name: `labeling_${name}`, text });

/** The rows of a named statement. */
export async function rowsOf<R extends pg.QueryResultRow>(
  client: Queryable,
  s: Statement,
  values: unknown[],
): Promise<R[]> {
  const { rows } = await client.query<R>({ name: s.name, text: s.text, values });
  return rows;
}

/** The pool (or client) under drizzle's `db`. */
export function clientOf(db: Db): Queryable {
  // drizzle(pool) keeps what it was made with as `$client` (not on the `Db` type, which every drizzle shares).
  return (db as unknown as { $client: Queryable }).$client;
}

/**
 * Run `fn` in a transaction on one connection of `db`'s pool (poolTransaction: committed when it returns,
 * rolled back when it throws, a connection that cannot roll back discarded).
 */
export function inTransaction<T>(db: Db, fn: (client: Queryable) => Promise<T>): Promise<T> {
  const under = clientOf(db);
  if (!("totalCount" in under))
    throw new Error("labeling statements run on a database opened over a pool, not over one connection");
  return poolTransaction(under, fn);
}
