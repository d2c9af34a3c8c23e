import os from "node:os";
import path from "node:path";
import { coreEnv, setEnv } from "../env";

/**
 * vitest globalSetup shared by every package: without DATABASE_URL, tests use an embedded PostgreSQL
 * whose data lives in a scratch home of its own (never the workbench's `.rlhf/`).
 */
export default function setup(): void {
  const env = coreEnv();
  if (!env.DATABASE_URL && !env.RLHF_HOME) setEnv("RLHF_HOME", path.join(os.tmpdir(), "rlhf-test-home"));
  setEnv("RLHF_QUIET", "1", { unlessSet: true });
}
