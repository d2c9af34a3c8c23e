import { existsSync } from "node:fs";
import path from "node:path";
import { type CoreEnv, coreEnv } from "../env";

/**
 * The workbench home: where the embedded database, checkpoints and other artifacts live.
 * `RLHF_HOME` when set; otherwise `.rlhf/` in the working directory — where the working directory is
 * inside the workbench's own checkout (an app started from `apps/dashboard`, say), the checkout's root,
 * so every process of one checkout finds the same home.
 */
export function workbenchHome(
  env: Pick<CoreEnv, "RLHF_HOME"> = coreEnv(),
  cwd: string = process.cwd(),
): string {
  if (env.RLHF_HOME) return path.resolve(cwd, env.RLHF_HOME);
  return path.join(workspaceRoot(cwd) ?? cwd, ".rlhf");
}

/** The nearest directory at or above `from` holding a pnpm-workspace.yaml, if any. */
export function workspaceRoot(from: string): string | undefined {
  let dir = path.resolve(from);
  for (;;) {
    if (existsSync(path.join(dir, "pnpm-workspace.yaml"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
