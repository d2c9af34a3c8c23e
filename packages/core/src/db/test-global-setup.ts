import os from "node:os";
import path from "node:path";

/**
 * vitest globalSetup shared by every package: without DATABASE_URL, tests use an embedded PostgreSQL
 * whose data lives in a scratch home of its own (never the workbench's `.rlhf/`).
 */
export default function setup(): void {
  if (!process.env.DATABASE_URL && !process.env.RLHF_HOME) {
    process.env.RLHF_HOME = path.join(os.tmpdir(), "rlhf-test-home");
  }
  process.env.RLHF_QUIET ??= "1";
}
