// Writes docs/reference/cli.md from the command tree (`pnpm docs:cli`).
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { renderCliReference } from "./reference";

const target = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../../docs/reference/cli.md",
);
mkdirSync(path.dirname(target), { recursive: true });
writeFileSync(target, renderCliReference());
process.stdout.write(`wrote ${target}\n`);
