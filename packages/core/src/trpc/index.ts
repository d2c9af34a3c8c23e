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
  getDatabase,
  getSession,
  protectedProcedure,
  publicProcedure,
  type Session,
  type SessionUser,
} from "./trpc";
