/**
 * The `rlhf` command line. Each command imports what it needs when it runs, so `rlhf --help` or
 * `rlhf start` never load tfjs.
 */
import { type JobKind, jobConfigSchemas } from "@rlhf/core/configs";
import { Command } from "commander";
import { addConfigFlags } from "./config-flags";

const program = new Command()
  .name("rlhf")
  .description(
    "RLHF Workbench: pretrain, fine-tune, train reward models and run PPO/DPO; label and watch it all.",
  )
  .showHelpAfterError();

program
  .command("start")
  .description(
    "start the workbench: database (embedded unless DATABASE_URL), demo data, labeler and dashboard",
  )
  .option("--dashboard-port <port>", "dashboard port", "3000")
  .option("--labeler-port <port>", "labeler port", "3001")
  .option("--no-demo", "do not seed the demo project")
  .action(async (options) => {
    const { start } = await import("./start");
    await start({
      dashboardPort: Number(options.dashboardPort),
      labelerPort: Number(options.labelerPort),
      demo: options.demo,
    });
  });

const train = program.command("train").description("run a training job here and now (recorded as a run)");
for (const kind of Object.keys(jobConfigSchemas) as JobKind[]) {
  const command = train
    .command(kind)
    .description(jobConfigSchemas[kind].description ?? kind)
    .option("--name <name>", "run name (default: kind and time)")
    .option("--json", "print the result as JSON");
  addConfigFlags(command, kind).action(async (options) => {
    const { trainCommand } = await import("./train");
    await trainCommand(kind, options);
  });
}

program
  .command("tokenizer")
  .description("tokenizers")
  .command("train")
  .description("train a byte-level BPE tokenizer on a text dataset and save it as tokenizer.json")
  .requiredOption("--out <file>", "where to write tokenizer.json")
  .option("--dataset <name>", "text dataset", "demo-corpus")
  .option("--vocab-size <n>", "vocabulary size", "512")
  .action(async (options) => {
    const { tokenizerTrainCommand } = await import("./tools");
    await tokenizerTrainCommand(options);
  });

program
  .command("generate")
  .description("generate from a checkpoint")
  .requiredOption("--checkpoint <dir>", "checkpoint directory, or run:<id or name>")
  .option("--prompt <text...>", "prompt(s); several are generated as one batch")
  .option("--chat", "wrap each prompt in the chat format (for SFT and RL checkpoints)")
  .option("--max-new-tokens <n>", "tokens to generate", "64")
  .option("--temperature <t>", "sampling temperature (0 = greedy)", "0.8")
  .option("--top-k <k>", "sample among the k most likely tokens (0 = all)", "0")
  .option("--top-p <p>", "nucleus sampling threshold", "1")
  .option("--seed <n>", "sampling seed", "0")
  .option("--backend <name>", "auto | tensorflow | wasm | cpu", "auto")
  .option("--json", "print JSON")
  .action(async (options) => {
    const { generateCommand } = await import("./tools");
    await generateCommand(options);
  });

const db = program.command("db").description("the workbench database");
db.command("status")
  .description("where the database is, its version, migrations and row counts")
  .option("--json", "machine-readable output")
  .action(async (options) => {
    const { dbStatus } = await import("./db");
    await dbStatus(options);
  });
db.command("seed-demo")
  .description("put the demo project's datasets into the database (no-op if present)")
  .action(async () => {
    const { seedDemoCommand } = await import("./db");
    await seedDemoCommand();
  });

program.parseAsync().catch((error: unknown) => {
  process.stderr.write(`rlhf: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
