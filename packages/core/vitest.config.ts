import { defineConfig } from "vitest/config";
import { workbenchTestConfig } from "./src/db/vitest-preset";

export default defineConfig(workbenchTestConfig("core"));
