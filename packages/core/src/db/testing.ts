import { randomBytes } from "node:crypto";
import pg from "pg";
import { coreEnv } from "../env";
import { acquireEmbeddedServer } from "./embedded";
import { type Database, openDatabase } from "./open";

export interface TestDatabase extends Database {
  /** Close the pool and drop the database. */
  drop(): Promise<void>;
}

/**
 * A fresh, migrated database for one test file, on real PostgreSQL: the server of `DATABASE_URL` when
 * set, otherwise the embedded server of `RLHF_HOME`. Tests never touch other data: the database is
 * created with a random name and dropped afterwards.
 */
export async function createTestDatabase(prefix = "rlhf_test"): Promise<TestDatabase> {
  const { DATABASE_URL } = coreEnv();
  const embedded = DATABASE_URL ? undefined : await acquireEmbeddedServer(testHome());
  const adminUrl = embedded?.adminUrl ?? withDatabase(DATABASE_URL!, "postgres");
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.end();

  const database = await openDatabase({ url: withDatabase(adminUrl, name) });
  return {
    ...database,
    close: database.close,
    drop: async () => {
      await database.close();
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`drop database if exists "${name}" with (force)`);
      await client.end();
      await embedded?.release();
    },
  };
}

function testHome(): string {
  const home = coreEnv().RLHF_HOME;
  if (!home) {
    throw new Error(
      "Tests need DATABASE_URL or RLHF_HOME (the test setup sets one); refusing to use the workbench's own data.",
    );
  }
  return home;
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
