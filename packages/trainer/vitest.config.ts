import { workbenchTestConfig } from "@rlhf/core/vitest-preset";
import { defineConfig } from "vitest/config";

// tfjs backends are process-wide and the machine has two cores: one test file at a time.
export default defineConfig(workbenchTestConfig("trainer", { testTimeout: 300_000, fileParallelism: false }));
