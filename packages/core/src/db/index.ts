export { acquireEmbeddedServer, type EmbeddedServer, embeddedPaths } from "./embedded";
export { workbenchHome, workspaceRoot } from "./home";
export {
  applyMigrations,
  type Database,
  type Db,
  MIGRATIONS_DIR,
  type OpenDatabaseOptions,
  openDatabase,
  redactUrl,
} from "./open";
export * as schema from "./schema";
