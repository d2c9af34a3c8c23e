/**
 * Whether `next build` writes Turbopack's filesystem cache (both apps' next.config.ts). Writing it took
 * 12 s of a first build's wall time on a 2-core machine (the labeler's, while the dashboard was still
 * compiling), and it only pays on a later build: a first build of a fresh clone — no `.next` yet, so
 * nothing to reuse — skips it; every build after that writes and reuses it, as Next.js does by default.
 * Turbo's cache restores an unchanged app without building it at all either way.
 */
import { existsSync } from "node:fs";
import path from "node:path";

export function writeBuildCache(appDir: string): boolean {
  return existsSync(path.join(appDir, ".next"));
}
