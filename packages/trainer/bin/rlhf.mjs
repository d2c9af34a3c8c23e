#!/usr/bin/env node
// The `rlhf` command: runs the TypeScript CLI through tsx (no build step), passing signals on so that
// Ctrl-C or a SIGTERM from a process manager reaches the CLI's own handlers.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const tsx = createRequire(import.meta.url).resolve("tsx");
const child = spawn(
  process.execPath,
  ["--import", tsx, path.join(here, "..", "src", "cli", "main.ts"), ...process.argv.slice(2)],
  {
    stdio: "inherit",
  },
);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  // A terminal's Ctrl-C reaches the whole process group, the child included: do not send it twice.
  process.on(signal, () => {
    if (signal !== "SIGINT" || !process.stdin.isTTY) child.kill(signal);
  });
}
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 + 2 : 1)));
