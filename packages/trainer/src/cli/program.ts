/**
 * The `rlhf` command tree. Each command imports what it needs when it runs, so `rlhf --help` or
 * `rlhf start` never load tfjs. Built by a function so that docs/reference/cli.md can be generated from it.
 */
import { Command } from "commander";
import { addDataCommands } from "./commands/data";
import { addExternalRunCommands, addJobCommands } from "./commands/jobs";
import { addModelCommands } from "./commands/models";
import { addUserCommands } from "./commands/users";
import { addStartCommand, addWorkbenchCommands } from "./commands/workbench";

/** The whole tree, in the order `rlhf --help` lists it. */
export function buildProgram(): Command {
  const program = new Command()
    .name("rlhf")
    .description(
      "RLHF Workbench: pretrain, fine-tune, train reward models and run PPO/DPO; label and watch it all.",
    )
    .showHelpAfterError();

  addStartCommand(program);
  addModelCommands(program);
  addWorkbenchCommands(program);
  addJobCommands(program);
  addExternalRunCommands(program);
  addUserCommands(program);
  addDataCommands(program);
  return program;
}
