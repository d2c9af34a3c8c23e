#!/usr/bin/env node
// The `rlhf` command: the TypeScript CLI, run in this very process through tsx's loader (no build step).
// One process, no wrapper: a terminal's Ctrl-C (SIGINT to the process group) or a process manager's
// SIGTERM reaches the CLI's own handlers exactly once. The root scripts `pnpm rlhf` and `pnpm start`
// `exec` this file, so pnpm's only child is this process and pnpm passes SIGTERM on to it.
import "tsx";

await import("../src/cli/main.ts");
