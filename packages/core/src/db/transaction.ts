/** A transaction on one connection of a pool, for the code that talks to node-postgres directly. */
import type pg from "pg";

/**
 * Run `fn` in a transaction on one connection of `pool`: committed when it returns, rolled back when it
 * throws. A connection that cannot even roll back is discarded, not returned to the pool.
 */
export async function poolTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("begin");
    const result = await fn(client);
    await client.query("commit");
    return result;
  } catch (error) {
    await client.query("rollback").catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}
