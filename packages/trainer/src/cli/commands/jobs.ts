/**
 * Jobs: queue runs for workers, watch and cancel them, run a worker; and take metrics from runs trained
 * elsewhere (`log`, with the `tokens` a script sends them with).
 */
import { jobConfigSchemas } from "@rlhf/core/configs";
import type { Command } from "commander";

export function addJobCommands(program: Command): void {
  program
    .command("launch")
    .description("queue a run for a worker (`rlhf train` runs one here and now instead)")
    .argument("<kind>", `${Object.keys(jobConfigSchemas).join(" | ")}, or pipeline for a chain of runs`)
    .option(
      "--config <file>",
      'the job config as JSON; for a pipeline { "steps": [{ "key", "kind", "config" }, ...] }',
    )
    .option("--name <name>", "the run's name (default <kind>-<6 hex>)")
    .option("--json", "print the launched run(s) as JSON")
    .action(async (kind, options) => {
      const { launchCommand } = await import("../launch");
      await launchCommand(kind, options);
    });

  const runsCommand = program.command("runs").description("runs: list, show, logs, cancel");
  runsCommand
    .command("list")
    .description("the latest runs, newest first")
    .option("--status <list>", "only these statuses, comma-separated (queued,running,...)")
    .option("--kind <kind>", "only this kind")
    .option("--limit <n>", "at most this many", "50")
    .option("--json", "print JSON")
    .action(async (options) => {
      const { listCommand } = await import("../runs");
      await listCommand(options);
    });
  runsCommand
    .command("show")
    .description("a run: status, worker, inputs, checkpoints, latest metrics, error")
    .argument("<run>", "run id or name")
    .option("--json", "print JSON")
    .action(async (ref, options) => {
      const { showCommand } = await import("../runs");
      await showCommand(ref, options);
    });
  runsCommand
    .command("logs")
    .description("a run's log lines")
    .argument("<run>", "run id or name")
    .option("-f, --follow", "keep printing new lines until the run ends (exit code 0 if it succeeded)")
    .option("--json", "one JSON object per line")
    .action(async (ref, options) => {
      const { logsCommand } = await import("../runs");
      await logsCommand(ref, options);
    });
  runsCommand
    .command("cancel")
    .description(
      "cancel a run: a queued one at once, a running one within seconds (keeping its last checkpoint)",
    )
    .argument("<run>", "run id or name")
    .option("--json", "print JSON")
    .action(async (ref, options) => {
      const { cancelCommand } = await import("../runs");
      await cancelCommand(ref, options);
    });

  program
    .command("worker")
    .description("take runs from the queue and run each in a job process; SIGTERM re-queues running jobs")
    .option("--concurrency <n>", "training jobs at once", "1")
    .option("--serve-slots <n>", "serve runs at once, besides --concurrency (0 = none)", "1")
    .option("--id <id>", "worker id, unique among live workers (default <host>-<pid>)")
    .option(
      "--stale-after <seconds>",
      "re-queue running runs whose worker has not heartbeaten for this long",
      "30",
    )
    .option(
      "--max-attempts <n>",
      "fail a run after this many crashed attempts (lost workers count apart, up to 10)",
      "3",
    )
    .option("--poll <ms>", "heartbeat, cancel and queue poll period", "1000")
    .option("--cancel-grace <ms>", "kill a cancelled job that has not stopped after this", "3000")
    .option(
      "--shutdown-grace <ms>",
      "on SIGTERM, kill (and re-queue) jobs that have not stopped after this",
      "60000",
    )
    .option(
      "--outage-limit <seconds>",
      "a database outage longer than this stops a job: checkpoint, back in the queue (default: RLHF_OUTAGE_LIMIT_SECONDS, else 300)",
    )
    .option("--json", "one JSON event per line")
    .action(async (options) => {
      const outageLimit = options.outageLimit === undefined ? undefined : Number(options.outageLimit);
      if (outageLimit !== undefined && !(outageLimit > 0))
        throw new Error(`--outage-limit: expected a number of seconds > 0, got ${options.outageLimit}`);
      const { runWorker } = await import("../../worker");
      await runWorker({
        concurrency: Number(options.concurrency),
        serveSlots: Number(options.serveSlots),
        workerId: options.id,
        staleAfterSeconds: Number(options.staleAfter),
        maxAttempts: Number(options.maxAttempts),
        pollIntervalMs: Number(options.poll),
        cancelGraceMs: Number(options.cancelGrace),
        shutdownGraceMs: Number(options.shutdownGrace),
        outageLimitSeconds: outageLimit,
        json: options.json,
      });
    });
}

export function addExternalRunCommands(program: Command): void {
  program
    .command("log")
    .description("send metrics, samples, logs or a status for a run trained elsewhere (an external run)")
    .argument("[values...]", "key=value metric pairs at --step")
    .option("--run <ref>", "the external run's id or name")
    .option("--name <name>", "name of the run (created if no external run has it)")
    .option("--step <n>", "step of the key=value metrics")
    .option("--status <status>", "running | succeeded | failed | cancelled")
    .option("--error <message>", "why it failed (with --status failed)")
    .option("--total-steps <n>", "steps the run will take")
    .option("--config <file>", "the run's hyperparameters (JSON)")
    .option("--message <text>", "a log line")
    .option("--file <file>", 'JSON Lines of ingest payloads or {"step": n, "key": value} points; - for stdin')
    .option("--endpoint <url>", "a dashboard's ingest URL instead of the database (or RLHF_INGEST_URL)")
    .option("--token <token>", "ingest token for --endpoint (or RLHF_TOKEN)")
    .option("--json", "print the result as JSON")
    .action(async (values, options) => {
      const { logCommand } = await import("../log");
      await logCommand(values, options);
    });

  const tokens = program.command("tokens").description("tokens for the metrics ingest endpoint");
  tokens
    .command("create")
    .argument("<name>", "what the token is for")
    .option("--json", "print JSON")
    .action(async (name, options) => {
      const { tokensCreateCommand } = await import("../tokens");
      await tokensCreateCommand(name, options);
    });
  tokens
    .command("list")
    .option("--json", "print JSON")
    .action(async (options) => {
      const { tokensListCommand } = await import("../tokens");
      await tokensListCommand(options);
    });
  tokens
    .command("revoke")
    .argument("<token>", "token id or name")
    .option("--json", "print JSON")
    .action(async (ref, options) => {
      const { tokensRevokeCommand } = await import("../tokens");
      await tokensRevokeCommand(ref, options);
    });
}
