// What routers write their queries with, so an app needs no drizzle-orm dependency of its own (as
// create-t3-turbo's db package re-exports them).
export {
  and,
  asc,
  count,
  desc,
  eq,
  gt,
  gte,
  inArray,
  isNotNull,
  isNull,
  lt,
  lte,
  ne,
  or,
  sql,
} from "drizzle-orm";
/** The process's database (it lives in @rlhf/core/db; here too for the apps' routes and pages). */
export { getDatabase } from "../db/process";
export { type HealthStatus, healthRouter } from "./health";
export {
  BodyTooLargeError,
  readBodyText,
  TRPC_MAX_ANONYMOUS_BYTES,
  TRPC_MAX_BATCH,
  TRPC_MAX_BODY_BYTES,
  trpcRouteHandler,
} from "./route";
export {
  adminProcedure,
  type Context,
  createCallerFactory,
  createContext,
  createInnerContext,
  createTRPCRouter,
  getSession,
  protectedProcedure,
  publicProcedure,
  type Session,
  type SessionUser,
} from "./trpc";
