/** The workbench itself: start it, run the demo pipeline, check the backend, the database. */
import { DEMO_LANGUAGES } from "@rlhf/core/demo";
import { type Command, Option } from "commander";

/** The demo's language, as `--language` (or `--demo-language`) takes it: on first seeding only. */
const demoLanguage = (flags: string) =>
  new Option(flags, "language of the demo project's data when it is first seeded (en or zh)").choices(
    DEMO_LANGUAGES,
  );

export function addStartCommand(program: Command): void {
  program
    .command("start")
    .description(
      "start the workbench: database (embedded unless DATABASE_URL), demo data, labeler and dashboard",
    )
    .option("--dashboard-port <port>", "dashboard port", "3000")
    .option("--labeler-port <port>", "labeler port", "3001")
    .option("--no-demo", "do not seed the demo project")
    .addOption(demoLanguage("--demo-language <language>"))
    .option(
      "--host <host>",
      "interface the apps listen on (0.0.0.0: every one; reading then needs an account)",
      "127.0.0.1",
    )
    .option("--public-read", "with --host, let people without an account read the dashboard")
    .option(
      "--build",
      "build the apps first (turbo, cached) while the database starts (what `pnpm start` runs)",
    )
    .action(async (options) => {
      const { start } = await import("../start");
      await start({
        dashboardPort: Number(options.dashboardPort),
        labelerPort: Number(options.labelerPort),
        demo: options.demo,
        demoLanguage: options.demoLanguage,
        host: options.host,
        publicRead: options.publicRead === true,
        build: options.build === true,
      });
    });
}

export function addWorkbenchCommands(program: Command): void {
  program
    .command("pipeline")
    .description(
      "run a whole pipeline here: --demo runs the oracle experiment (pretrain → SFT → rankings → reward → PPO, and DPO)",
    )
    .option("--demo", "the demo project's oracle experiment")
    .option("--quick", "a small, fast version (the CI smoke test)")
    .addOption(demoLanguage("--language <language>"))
    .option("--seed <n>", "seed", "1234")
    .option(
      "--name <prefix>",
      "prefix of the run names (default demo, or demo-quick with --quick): pipelines of other names run and resume apart",
    )
    .option(
      "--fresh",
      "start a new pipeline even if one of these settings is unfinished (by default it is continued: finished stages reused, the interrupted one resumed from its checkpoint)",
    )
    .option(
      "--outage-limit <seconds>",
      "a database outage longer than this stops the running stage at a checkpoint; it resumes when the database answers (default: RLHF_OUTAGE_LIMIT_SECONDS, else 300)",
    )
    .option("--json", "print the result as JSON")
    .action(async (options) => {
      const { pipelineCommand } = await import("../pipeline");
      await pipelineCommand(options);
    });

  program
    .command("doctor")
    .description("which tfjs backend auto picks here and why, and the GPU adapter WebGPU sees")
    .option("--json", "print the report as JSON")
    .action(async (options) => {
      const { doctorCommand } = await import("../doctor");
      await doctorCommand(options);
    });

  const db = program.command("db").description("the workbench database");
  db.command("status")
    .description("where the database is, its version, migrations and row counts")
    .option("--json", "machine-readable output")
    .action(async (options) => {
      const { dbStatus } = await import("../db");
      await dbStatus(options);
    });
  db.command("seed-demo")
    .description("put the demo project's datasets into the database (no-op if present)")
    .addOption(demoLanguage("--language <language>"))
    .action(async (options) => {
      const { seedDemoCommand } = await import("../db");
      await seedDemoCommand(options);
    });
}
