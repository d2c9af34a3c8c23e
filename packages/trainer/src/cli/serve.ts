/**
 * `rlhf serve`: load a checkpoint (a directory, or a run's checkpoint from the database) and answer the
 * OpenAI API on it until Ctrl-C or SIGTERM.
 */
import path from "node:path";
import { openDatabase } from "@rlhf/core/db";
import { type BackendPreference, describeDevice } from "../backend";
import { resolveCheckpointRef } from "../jobs/execute";
import { loadServedModel, startServer } from "../serve";
import { onStopSignals } from "../signals";
import { cliPath } from "./files";

export interface ServeCommandOptions {
  checkpoint?: string;
  run?: string;
  step?: string;
  host: string;
  port: string;
  modelName?: string;
  apiKey?: string;
  maxChoices: string;
  maxTokens: string;
  corsOrigin?: string[];
  backend: string;
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`${flag} must be a positive integer, got ${value}`);
  return n;
}

/** The checkpoint directory and default model name of `--checkpoint` or `--run [--step]`. */
async function resolveSource(options: ServeCommandOptions): Promise<{ dir: string; name: string }> {
  if (options.checkpoint && options.run) throw new Error("give --checkpoint or --run, not both");
  if (options.checkpoint) {
    if (options.step !== undefined) throw new Error("--step goes with --run");
    const dir = cliPath(options.checkpoint);
    return { dir, name: path.basename(dir) };
  }
  if (!options.run) throw new Error("give --checkpoint <dir> or --run <name or id>");
  const step = options.step === undefined ? undefined : Number(options.step);
  if (step !== undefined && !(Number.isInteger(step) && step >= 0)) {
    throw new Error(`--step must be a non-negative integer, got ${options.step}`);
  }
  const ref = options.run.startsWith("run:") ? options.run : `run:${options.run}`;
  const database = await openDatabase();
  try {
    return { dir: await resolveCheckpointRef(database, ref, step), name: ref.slice(4) };
  } finally {
    await database.close();
  }
}

/** A curl line that calls the server (shown at start, and in the docs). */
export function curlExample(url: string, model: string, withApiKey = false): string {
  const auth = withApiKey ? ' -H "Authorization: Bearer $OPENAI_API_KEY"' : "";
  const body = JSON.stringify({ model, messages: [{ role: "user", content: "Tell me about the sea." }] });
  return `curl ${url}/v1/chat/completions -H "Content-Type: application/json"${auth} -d '${body}'`;
}

export async function serveCommand(options: ServeCommandOptions): Promise<void> {
  const port = Number(options.port);
  if (!(Number.isInteger(port) && port >= 0 && port < 65536)) {
    throw new Error(`--port must be an integer from 0 to 65535, got ${options.port}`);
  }
  const maxChoices = positiveInt("--max-choices", options.maxChoices);
  const maxTokens = positiveInt("--max-tokens", options.maxTokens);
  const source = await resolveSource(options);
  const served = await loadServedModel(source.dir, {
    name: options.modelName ?? source.name,
    backend: options.backend as BackendPreference,
  });
  const server = await startServer(served, {
    host: options.host,
    port,
    apiKey: options.apiKey,
    maxChoices,
    maxTokens,
    corsOrigins: options.corsOrigin ?? [],
  });
  const { config } = served.model;
  process.stdout.write(
    [
      `serving ${served.name} (${source.dir})`,
      `  model    ${config.nLayer} layers, d=${config.nEmbd}, context ${config.nPositions}, vocab ${config.vocabSize}`,
      `  backend  ${served.backend.name} (${describeDevice(served.backend)})`,
      `  url      ${server.url}/v1`,
      `  try      ${curlExample(server.url, served.name, options.apiKey !== undefined)}`,
      "",
    ].join("\n"),
  );

  await new Promise<void>((resolve) => {
    onStopSignals(
      (signal, press) => {
        if (press > 1) process.exit(130);
        process.stdout.write(`\n${signal}: closing the server\n`);
        resolve();
      },
      { signals: ["SIGINT", "SIGTERM"] },
    );
  });
  await server.close();
  served.model.dispose();
}
