/**
 * The `rlhf` command tree. Each command imports what it needs when it runs, so `rlhf --help` or
 * `rlhf start` never load tfjs. Built by a function so that docs/reference/cli.md can be generated from it.
 */
import { type JobKind, jobConfigSchemas, SERVE_LIMITS } from "@rlhf/core/configs";
import { Command } from "commander";
import { addConfigFlags } from "./config-flags";

/** Help text of every --backend option (a job's own backend field says the same through its schema). */
const BACKEND_CHOICES = "auto | tensorflow | webgpu | wasm | cpu (rlhf doctor: what auto picks here)";

export function buildProgram(): Command {
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
    .option(
      "--host <host>",
      "interface the apps listen on (0.0.0.0: every one; reading then needs an account)",
      "127.0.0.1",
    )
    .option("--public-read", "with --host, let people without an account read the dashboard")
    .action(async (options) => {
      const { start } = await import("./start");
      await start({
        dashboardPort: Number(options.dashboardPort),
        labelerPort: Number(options.labelerPort),
        demo: options.demo,
        host: options.host,
        publicRead: options.publicRead === true,
      });
    });

  const train = program.command("train").description("run a training job here and now (recorded as a run)");
  // Serving is not a job that ends: `rlhf serve` runs it here, `rlhf launch serve` on a worker.
  for (const kind of (Object.keys(jobConfigSchemas) as JobKind[]).filter((k) => k !== "serve")) {
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
    .option("--backend <name>", BACKEND_CHOICES, "auto")
    .option("--json", "print JSON")
    .action(async (options) => {
      const { generateCommand } = await import("./tools");
      await generateCommand(options);
    });

  program
    .command("compress")
    .description("compress a file losslessly with a checkpoint's language model (arithmetic coding)")
    .argument("<in>", "file to compress (any bytes)")
    .argument("<out>", "compressed file to write")
    .requiredOption("--checkpoint <dir>", "checkpoint directory, or run:<id or name>")
    .option("--backend <name>", `${BACKEND_CHOICES}; decompression needs the same`, "auto")
    .option(
      "--context <tokens>",
      "tokens per chunk, each coded from a fresh context (default: the run's blockSize, else the model's context)",
    )
    .option(
      "--lanes <n>",
      "chunks coded side by side as one batch (default: as many as 256 MB of KV cache hold, at most 64)",
    )
    .option("--json", "print the figures as JSON")
    .action(async (input, output, options) => {
      const { compressCommand } = await import("./compress");
      await compressCommand(input, output, options);
    });

  program
    .command("decompress")
    .description("restore a file written by rlhf compress, byte for byte (checked against its SHA-256)")
    .argument("<in>", "compressed file")
    .argument("<out>", "file to write")
    .option(
      "--checkpoint <dir>",
      "checkpoint directory or run:<id or name> (default: the one the file names)",
    )
    .option("--backend <name>", "tfjs backend (default: the one the file was compressed on)")
    .action(async (input, output, options) => {
      const { decompressCommand } = await import("./compress");
      await decompressCommand(input, output, options);
    });

  program
    .command("serve")
    .description("answer the OpenAI API (completions, chat completions, models) with a checkpoint's policy")
    .option("--checkpoint <dir>", "checkpoint directory (ours, or a GPT-2 from the Hugging Face hub)")
    .option("--run <run>", "serve a run's checkpoint instead: run id or name")
    .option("--step <n>", "with --run: the checkpoint at this step (default: the final or latest)")
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .option("--port <port>", "port (0 = any free port)", "8000")
    .option("--model-name <name>", "the model id clients send (default: the run or directory name)")
    .option("--api-key <key>", "require `Authorization: Bearer <key>` on every request")
    .option("--max-choices <n>", "most completions per request: prompts × n", String(SERVE_LIMITS.maxChoices))
    .option(
      "--max-tokens <n>",
      "most new tokens per completion a request may ask for",
      String(SERVE_LIMITS.maxTokens),
    )
    .option("--cors-origin <origin...>", "web pages allowed to call the server from a browser (* for any)")
    .option("--backend <name>", BACKEND_CHOICES, "auto")
    .action(async (options) => {
      const { serveCommand } = await import("./serve");
      await serveCommand(options);
    });

  program
    .command("merge")
    .description("merge a LoRA adapter into its base: a full checkpoint (config.json + model.safetensors)")
    .argument("<adapter>", "adapter directory (adapter_config.json + adapter_model.safetensors)")
    .requiredOption("--out <dir>", "directory of the merged checkpoint (new or empty)")
    .option("--base <dir>", "base checkpoint (default: the adapter's base_model_name_or_path)")
    .option("--backend <name>", BACKEND_CHOICES, "auto")
    .action(async (adapter, options) => {
      const { mergeCommand } = await import("./merge");
      await mergeCommand(adapter, options);
    });

  program
    .command("pipeline")
    .description(
      "run a whole pipeline here: --demo runs the oracle experiment (pretrain → SFT → rankings → reward → PPO, and DPO)",
    )
    .option("--demo", "the demo project's oracle experiment")
    .option("--quick", "a small, fast version (the CI smoke test)")
    .option("--seed <n>", "seed", "1234")
    .option("--json", "print the result as JSON")
    .action(async (options) => {
      const { pipelineCommand } = await import("./pipeline");
      await pipelineCommand(options);
    });

  program
    .command("doctor")
    .description("which tfjs backend auto picks here and why, and the GPU adapter WebGPU sees")
    .option("--json", "print the report as JSON")
    .action(async (options) => {
      const { doctorCommand } = await import("./doctor");
      await doctorCommand(options);
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

  // Jobs: queue runs for workers, watch and cancel them, and take metrics from runs trained elsewhere.
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
      const { launchCommand } = await import("./runs");
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
      const { listCommand } = await import("./runs");
      await listCommand(options);
    });
  runsCommand
    .command("show")
    .description("a run: status, worker, inputs, checkpoints, latest metrics, error")
    .argument("<run>", "run id or name")
    .option("--json", "print JSON")
    .action(async (ref, options) => {
      const { showCommand } = await import("./runs");
      await showCommand(ref, options);
    });
  runsCommand
    .command("logs")
    .description("a run's log lines")
    .argument("<run>", "run id or name")
    .option("-f, --follow", "keep printing new lines until the run ends (exit code 0 if it succeeded)")
    .option("--json", "one JSON object per line")
    .action(async (ref, options) => {
      const { logsCommand } = await import("./runs");
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
      const { cancelCommand } = await import("./runs");
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
      const { runWorker } = await import("../worker");
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
      const { logCommand } = await import("./runs");
      await logCommand(values, options);
    });

  const tokens = program.command("tokens").description("tokens for the metrics ingest endpoint");
  tokens
    .command("create")
    .argument("<name>", "what the token is for")
    .option("--json", "print JSON")
    .action(async (name, options) => {
      const { tokensCreateCommand } = await import("./runs");
      await tokensCreateCommand(name, options);
    });
  tokens
    .command("list")
    .option("--json", "print JSON")
    .action(async (options) => {
      const { tokensListCommand } = await import("./runs");
      await tokensListCommand(options);
    });
  tokens
    .command("revoke")
    .argument("<token>", "token id or name")
    .option("--json", "print JSON")
    .action(async (ref, options) => {
      const { tokensRevokeCommand } = await import("./runs");
      await tokensRevokeCommand(ref, options);
    });

  // People: the first admin (never a default password), more accounts, invitation links.
  const usersCommand = program.command("users").description("labeler and dashboard accounts");
  for (const role of ["admin", "annotator"] as const) {
    usersCommand
      .command(role === "admin" ? "create-admin" : "create")
      .description(
        role === "admin"
          ? "create an admin (the first one, say): the password is asked for, or read with --password-stdin"
          : "create an annotator account (or send an invitation link: users invite)",
      )
      .requiredOption("--email <email>", "their email, used to sign in")
      .option("--name <name>", "display name (default: the email's local part)")
      .option("--password-stdin", "read the password from standard input")
      .option("--json", "print the user as JSON")
      .action(async (options) => {
        const { createUserCommand } = await import("./users");
        await createUserCommand(role, options);
      });
  }
  usersCommand
    .command("list")
    .option("--json", "print JSON")
    .action(async (options) => {
      const { listUsersCommand } = await import("./users");
      await listUsersCommand(options);
    });
  usersCommand
    .command("invite")
    .description("print an invitation link (valid 7 days) with which someone sets their name and password")
    .requiredOption("--email <email>", "who is invited")
    .option("--role <role>", "annotator | admin", "annotator")
    .option(
      "--url <url>",
      "the labeler's address (default: the one pnpm start printed, else http://localhost:3001)",
    )
    .action(async (options) => {
      const { inviteCommand } = await import("./users");
      await inviteCommand(options);
    });

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
      const { importCommand } = await import("./import");
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
      const { listRewardsCommand } = await import("./rewards");
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
      const { tryRewardCommand } = await import("./rewards");
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
      const { exportPreferencesCommand } = await import("./export");
      await exportPreferencesCommand(options);
    });

  return program;
}
