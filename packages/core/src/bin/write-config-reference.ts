// Writes docs/reference/configs.md from the job-config schemas (`pnpm docs:configs`).
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { renderConfigReference } from "../configs/reference";

const target = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../../docs/reference/configs.md",
);
mkdirSync(path.dirname(target), { recursive: true });
writeFileSync(target, renderConfigReference());
process.stdout.write(`wrote ${target}\n`);
