/**
 * The server side of tRPC shared by the dashboard and the labeler, in the three parts of
 * create-t3-turbo: (1) context, (2) initialisation, (3) procedures. Each app merges its own domain
 * routers with the shared ones (`healthRouter`) in its `src/server/api/root.ts`.
 */
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { ZodError, z } from "zod";
import { isSameOrigin } from "../auth/origin";
import { sessionUser } from "../auth/session";
import type { Database, Db, OpenDatabaseOptions } from "../db/open";
import { isUnreachable, rootMessage } from "../db/outage";
import { getDatabase } from "../db/process";
import type { UserRole } from "../db/schema";
import { nulMessage, nulPath } from "../nul";
import { serverTextOf, withServerText, zodText } from "../server-text";

// ---------------------------------------------------------------------------------------------------
// 1. Context
// ---------------------------------------------------------------------------------------------------

export interface SessionUser {
  id: string;
  name: string;
  email: string;
  role: UserRole;
}

export interface Session {
  user: SessionUser;
}

/**
 * Who is calling, from the request's headers: the session cookie better-auth set at sign-in, its
 * signature checked, and the session and its user read from the database on every request (so a role
 * change or a block takes effect at once; a blocked user has no session). Without `db`, the process's
 * database (getDatabase of ../db/process.ts).
 */
export async function getSession(headers: Headers, db?: Db): Promise<Session | null> {
  // No cookie, no session: spares the lookup for anonymous requests.
  if (!headers.get("cookie")) return null;
  const user = await sessionUser(db ?? (await getDatabase()).db, headers);
  return user && { user };
}

export interface Context {
  /**
   * The whole database: its pool (pg-boss, transactions, raw SQL) and `mode` — whether it is the server
   * of DATABASE_URL or the workbench's embedded one (shown on status cards).
   */
  database: Database;
  /** `database.db`: the drizzle instance most procedures query with. */
  db: Db;
  headers: Headers;
  session: Session | null;
}

/** The context from parts already at hand: what tests and server-side callers use. */
export function createInnerContext(opts: {
  database: Database;
  headers?: Headers;
  session?: Session | null;
}): Context {
  return {
    database: opts.database,
    db: opts.database.db,
    headers: opts.headers ?? new Headers(),
    session: opts.session ?? null,
  };
}

/**
 * The context of one request. An unreachable database becomes SERVICE_UNAVAILABLE with the reason, so
 * the apps can tell the user what to fix instead of showing a bare 500.
 */
export async function createContext(opts: {
  headers: Headers;
  /** How to reach the database (from the app's env.ts); without it, DATABASE_URL or the embedded server. */
  database?: OpenDatabaseOptions;
}): Promise<Context> {
  let database: Database;
  try {
    database = await getDatabase(opts.database);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw withServerText(
      new TRPCError({
        code: "SERVICE_UNAVAILABLE",
        message: `Database unreachable: ${reason}`,
        cause: error,
      }),
      { code: "databaseUnreachable", params: { reason } },
    );
  }
  return createInnerContext({
    database,
    headers: opts.headers,
    session: await getSession(opts.headers, database.db).catch((error: unknown) => {
      throw unreachableError(error) ?? error;
    }),
  });
}

/**
 * A query that met a database outage, as the page should say it: SERVICE_UNAVAILABLE, "Database
 * unreachable: <the driver's reason>" — never drizzle's "Failed query: <SQL> params: <values>", which
 * would put SQL and a session token on the page. Undefined for any other error.
 */
function unreachableError(error: unknown): TRPCError | undefined {
  if (!isUnreachable(error)) return undefined;
  const reason = rootMessage(error);
  return withServerText(
    new TRPCError({ code: "SERVICE_UNAVAILABLE", message: `Database unreachable: ${reason}`, cause: error }),
    { code: "databaseUnreachable", params: { reason } },
  );
}

// ---------------------------------------------------------------------------------------------------
// 2. Initialisation
// ---------------------------------------------------------------------------------------------------

const t = initTRPC.context<Context>().create({
  // Dates, Maps and bigints survive the wire (runs' timestamps arrive as Date objects).
  transformer: superjson,
  // An input that fails its zod schema reports which field and why, so a form can show it on the field.
  errorFormatter: ({ shape, error }) => ({
    ...shape,
    data: {
      ...shape.data,
      zodError: error.cause instanceof ZodError ? z.flattenError(error.cause) : null,
      // The message as a code and parameters, for a page in another language (server-text.ts).
      text: serverTextOf(error) ?? (error.cause instanceof ZodError ? zodText(error.cause.issues) : null),
    },
  }),
});

export const createCallerFactory = t.createCallerFactory;

// ---------------------------------------------------------------------------------------------------
// 3. Procedures
// ---------------------------------------------------------------------------------------------------

export const createTRPCRouter = t.router;

/**
 * Anyone may call it; `ctx.session` may be null. No input holds a NUL character (PostgreSQL's text cannot):
 * it is refused here, naming the field, rather than failing an insert with the SQL in the error.
 */
export const publicProcedure = t.procedure.use(async ({ getRawInput, next }) => {
  const path = nulPath(await getRawInput());
  if (path !== undefined) throw new TRPCError({ code: "BAD_REQUEST", message: nulMessage(path) });
  const result = await next();
  const unreachable = result.ok ? undefined : unreachableError(result.error.cause);
  if (unreachable) throw unreachable;
  return result;
});

/**
 * A signed-in user is guaranteed: `ctx.session.user` is non-null inside. A mutation sent by another
 * site's page (cross-site request forgery riding on the session cookie) is refused.
 */
export const protectedProcedure = publicProcedure.use(({ ctx, next, type }) => {
  if (!ctx.session?.user) {
    throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in to do this." });
  }
  if (type === "mutation" && !isSameOrigin(ctx.headers)) {
    throw new TRPCError({ code: "FORBIDDEN", message: "Cross-site request refused." });
  }
  return next({ ctx: { session: { ...ctx.session, user: ctx.session.user } } });
});

/** A signed-in admin is guaranteed (importing data, managing users, seeing agreement). */
export const adminProcedure = protectedProcedure.use(({ ctx, next }) => {
  if (ctx.session.user.role !== "admin") {
    throw new TRPCError({ code: "FORBIDDEN", message: "Only an admin can do this." });
  }
  return next();
});
