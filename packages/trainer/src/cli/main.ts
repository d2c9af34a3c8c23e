/** The `rlhf` command line: parses the arguments against the command tree in ./program. */
import { handleProcessErrors } from "../jobs/process-errors";
import { buildProgram } from "./program";

// Before any command loads tfjs: an error nobody caught is one line, never the wasm module's source.
handleProcessErrors({ prefix: "rlhf" });

buildProgram()
  .parseAsync()
  .catch((error: unknown) => {
    process.stderr.write(`rlhf: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
