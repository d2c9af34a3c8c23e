/**
 * The database of an app server's process, opened once and shared by everything that serves a request:
 * the tRPC context, the auth routes, the apps' own routes (ingest, checkpoint files, pages).
 */
import { type Database, type OpenDatabaseOptions, openDatabase } from "./open";

// Kept on globalThis so that Next's dev server, which re-evaluates modules on every edit, reuses one
// pool (and one lease on the embedded server) instead of opening a new one per reload.
const processWide = globalThis as typeof globalThis & { __rlhfDatabase?: Promise<Database> };

/**
 * The process's database, opened on first use: `options` of the first call win. A failed open is
 * forgotten, so the next request tries again (the server may have come up meanwhile).
 */
export function getDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  processWide.__rlhfDatabase ??= openDatabase(options).catch((error: unknown) => {
    processWide.__rlhfDatabase = undefined;
    throw error;
  });
  return processWide.__rlhfDatabase;
}
