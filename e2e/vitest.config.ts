import { defineConfig } from "vitest/config";
// A relative path: vitest bundles the config, and a TypeScript file behind a package name is left external.
import { workbenchTestConfig } from "../packages/core/src/db/vitest-preset";

export default defineConfig(
  workbenchTestConfig("e2e", { include: ["test/**/*.test.ts"], testTimeout: 900_000, hookTimeout: 300_000 }),
);
