/** The `rlhf` command line: parses the arguments against the command tree in ./program. */
import { buildProgram } from "./program";

buildProgram()
  .parseAsync()
  .catch((error: unknown) => {
    process.stderr.write(`rlhf: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
