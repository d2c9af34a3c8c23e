import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Writes a generated page of docs/reference/ (`pnpm docs:configs`, `pnpm docs:metrics`). */
export function writeReferencePage(name: string, text: string): void {
  const target = path.resolve(
    path.dirname(fileURLToPath(import.meta.url)),
    "../../../../docs/reference",
    name,
  );
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
