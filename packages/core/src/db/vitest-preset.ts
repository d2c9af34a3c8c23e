import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ViteUserConfig } from "vitest/config";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");

/**
 * The test settings every package shares: the database global setup, generous timeouts for real
 * PostgreSQL and tfjs, and a JSON report per package that `.ci/test.mjs` sums into one line.
 */
export function workbenchTestConfig(
  pkg: string,
  test: NonNullable<ViteUserConfig["test"]> = {},
): ViteUserConfig {
  return {
    test: {
      globalSetup: [path.join(root, "packages/core/src/db/test-global-setup.ts")],
      testTimeout: 60_000,
      hookTimeout: 120_000,
      reporters: ["default", "json"],
      outputFile: { json: path.join(root, ".test-results", `${pkg}.json`) },
      ...test,
    },
  };
}
