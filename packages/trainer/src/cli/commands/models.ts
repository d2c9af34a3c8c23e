/** Commands that run a model here: train, the tokenizer, generate, compress, serve, merge. */
import { type JobKind, jobConfigSchemas, SERVE_LIMITS } from "@rlhf/core/configs";
import type { Command } from "commander";
import { addConfigFlags } from "../config-flags";

/** Help text of every --backend option (a job's own backend field says the same through its schema). */
const BACKEND_CHOICES = "auto | tensorflow | webgpu | wasm | cpu (rlhf doctor: what auto picks here)";

export function addModelCommands(program: Command): void {
  const train = program.command("train").description("run a training job here and now (recorded as a run)");
  // Serving is not a job that ends: `rlhf serve` runs it here, `rlhf launch serve` on a worker.
  for (const kind of (Object.keys(jobConfigSchemas) as JobKind[]).filter((k) => k !== "serve")) {
    const command = train
      .command(kind)
      .description(jobConfigSchemas[kind].description ?? kind)
      .option("--name <name>", "run name (default: kind and time)")
      .option("--json", "print the result as JSON");
    addConfigFlags(command, kind).action(async (options) => {
      const { trainCommand } = await import("../train");
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
      const { tokenizerTrainCommand } = await import("../tools");
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
      const { generateCommand } = await import("../tools");
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
      const { compressCommand } = await import("../compress");
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
      const { decompressCommand } = await import("../compress");
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
      const { serveCommand } = await import("../serve");
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
      const { mergeCommand } = await import("../merge");
      await mergeCommand(adapter, options);
    });
}
