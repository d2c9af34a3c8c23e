// A relative path: vitest bundles the config, and a TypeScript file behind a package name is left external.

import { defineConfig } from "vitest/config";
import { workbenchTestConfig } from "../core/src/db/vitest-preset";

// tfjs backends are process-wide and the machine has two cores: one test file at a time.
export default defineConfig(workbenchTestConfig("trainer", { testTimeout: 300_000, fileParallelism: false }));
