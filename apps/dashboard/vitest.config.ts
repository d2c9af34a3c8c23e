import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { alias: { "~": fileURLToPath(new URL("./src", import.meta.url)) } },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["@rlhf/core/test-global-setup"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
