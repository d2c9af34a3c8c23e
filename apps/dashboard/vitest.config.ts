import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
// A relative path: vitest bundles the config, and a TypeScript file behind a package name is left external.
import { workbenchTestConfig } from "../../packages/core/src/db/vitest-preset";

const shared = workbenchTestConfig("dashboard", { include: ["test/**/*.test.ts"], hookTimeout: 180_000 });

export default defineConfig({
  ...shared,
  resolve: { alias: { "~": fileURLToPath(new URL("./src", import.meta.url)) } },
});
