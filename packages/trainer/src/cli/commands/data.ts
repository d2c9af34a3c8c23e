/** Data in and out: import a dataset, the reward functions, export preferences. */
import type { Command } from "commander";

export function addDataCommands(program: Command): void {
  program
    .command("import")
    .description(
      "import a JSONL file (or a .txt corpus) into a dataset, all or nothing: every bad line is named and nothing is stored",
    )
    .argument("<file>", "the file; - for standard input")
    .requiredOption("--kind <kind>", "text | sft | prompts | preferences")
    .requiredOption("--dataset <name>", "the dataset: created, or appended to when it exists with this kind")
    .option(
      "--eval-fraction <f>",
      "hold out this share of the rows as the eval split, spread through the file",
    )
    .option("--split <split>", "put every row in this split instead: train | eval")
    .option("--format <format>", "jsonl | txt (default: txt for a .txt file, else jsonl)")
    .option("--json", "print the result as JSON")
    .action(async (file, options) => {
      const { importCommand } = await import("../import");
      await importCommand(file, options);
    });

  const rewardsCommand = program
    .command("rewards")
    .description("reward functions for GRPO and RLOO: the built-ins, and trying your own");
  rewardsCommand
    .command("list")
    .description("the built-in reward functions and their params")
    .option("--json", "print JSON")
    .action(async (options) => {
      const { listRewardsCommand } = await import("../rewards");
      listRewardsCommand(options);
    });
  rewardsCommand
    .command("try")
    .description("load your reward function as a run does and score the given completions")
    .argument("<file>", "the .ts, .mts, .js or .mjs file")
    .argument("<export>", "the exported function")
    .requiredOption("--completion <text...>", "completions to score (one score each)")
    .option("--prompt <text>", "the prompt they answer", "")
    .option("--params <json>", "the term's params, passed as extra.params")
    .option("--json", "print JSON")
    .action(async (file, exportName, options) => {
      const { tryRewardCommand } = await import("../rewards");
      await tryRewardCommand(file, exportName, options);
    });

  program
    .command("export")
    .description("export data")
    .command("preferences")
    .description("a preference dataset as JSONL: TRL pairs (plain or conversational) or full rankings")
    .requiredOption("--dataset <name>", "preferences dataset")
    .option("--format <format>", "trl | trl-conversational | rankings", "trl")
    .option("--out <file>", "write here instead of standard output")
    .action(async (options) => {
      const { exportPreferencesCommand } = await import("../export");
      await exportPreferencesCommand(options);
    });
}
