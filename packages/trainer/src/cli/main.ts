/**
 * The `rlhf` command line. Each command imports what it needs when it runs, so `rlhf --help` or
 * `rlhf start` never load tfjs.
 */
import { Command } from "commander";

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
