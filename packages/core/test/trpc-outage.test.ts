/**
 * The apps' tRPC through a database outage (a private PostgreSQL, stopped and started): a query that
 * meets it answers SERVICE_UNAVAILABLE "Database unreachable: …" — no SQL, no parameters — and the same
 * process answers again once the server is back.
 */
import { TRPCError } from "@trpc/server";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../src/db/open";
import {
  createDatabaseOn,
  type PrivatePostgres,
  postgresBinaries,
  startPrivatePostgres,
} from "../src/testing/postgres-server";
import { createInnerContext, createTRPCRouter, publicProcedure } from "../src/trpc/trpc";

const missing = postgresBinaries("system");
let server: PrivatePostgres;
let database: Database;

beforeAll(async () => {
  if (typeof missing === "string") return;
  server = await startPrivatePostgres("system");
  ({ database } = await createDatabaseOn(server, "trpc"));
});
afterAll(async () => {
  await database?.close();
  server?.destroy();
});

const router = createTRPCRouter({
  secret: publicProcedure.query(async ({ ctx }) => {
    const { rows } = await ctx.db.execute<{ n: number }>(
      sql`select ${"session-token-xyz"}::text as t, 1 as n`,
    );
    return rows[0]!.n;
  }),
});

describe.skipIf(typeof missing === "string")(
  `tRPC through a database outage${typeof missing === "string" ? ` (skipped: ${missing})` : ""}`,
  () => {
    it("says 'Database unreachable' without SQL or parameters, and answers again after", async () => {
      const caller = router.createCaller(createInnerContext({ database }));
      expect(await caller.secret()).toBe(1);
      server.stop();
      let error: unknown;
      try {
        error = await caller.secret().catch((e: unknown) => e);
      } finally {
        server.start();
      }
      expect(error).toBeInstanceOf(TRPCError);
      expect((error as TRPCError).code).toBe("SERVICE_UNAVAILABLE");
      expect((error as TRPCError).message).toMatch(/^Database unreachable: /);
      expect((error as TRPCError).message).not.toMatch(/select|session-token-xyz|Failed query/);
      // The pool reconnects: the same caller, the same process.
      let answer: unknown;
      for (let tries = 0; tries < 20 && answer !== 1; tries++) {
        answer = await caller.secret().catch(() => undefined);
        if (answer !== 1) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(answer).toBe(1);
    });
  },
);
