import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { workbenchHome } from "../db/home";
import { type CoreEnv, coreEnv } from "../env";

/** Where a generated secret is kept: beside the embedded database, readable by its owner only. */
export function authSecretPath(home: string = workbenchHome()): string {
  return path.join(home, "auth-secret");
}

/**
 * The key that signs session cookies: `BETTER_AUTH_SECRET` when set; otherwise one generated on first use
 * into `<workbench home>/auth-secret` (mode 600) and read from there afterwards, so that every process of
 * one workbench — both apps and the CLI — signs with the same key and sessions survive restarts.
 */
export function authSecret(
  env: Pick<CoreEnv, "BETTER_AUTH_SECRET" | "RLHF_HOME"> = coreEnv(),
  home?: string,
): string {
  if (env.BETTER_AUTH_SECRET) return env.BETTER_AUTH_SECRET;
  const file = authSecretPath(home ?? workbenchHome(env));
  try {
    const existing = readFileSync(file, "utf8").trim();
    if (existing.length >= 32) return existing;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const secret = randomBytes(32).toString("base64url");
  try {
    // `wx`: when two processes start at once, the first one's secret wins and the other reads it.
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return readFileSync(file, "utf8").trim();
  }
  chmodSync(file, 0o600);
  return secret;
}
