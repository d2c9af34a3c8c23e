export { acquireEmbeddedServer, type EmbeddedServer, embeddedPaths } from "./embedded";
export { workbenchHome, workspaceRoot } from "./home";
export {
  applyMigrations,
  type Database,
  type Db,
  guardPool,
  MIGRATIONS_DIR,
  type OpenDatabaseOptions,
  openDatabase,
  redactUrl,
} from "./open";
export { backoffMs, isUnreachable, rootMessage, type UntilReachableOptions, untilReachable } from "./outage";
export { getDatabase } from "./process";
export * as schema from "./schema";
