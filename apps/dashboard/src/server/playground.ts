/**
 * Server-side generation for the playground's comparison: the same checkpoint, prompt and settings as the
 * browser, on this process's tfjs backend. The model is built from the three files the browser downloads
 * (config.json, tokenizer.json, model.safetensors, read where the file route reads them) through the same
 * `@rlhf/trainer/browser` functions, and generates through the same `complete`: only the backend's
 * arithmetic differs. One model is kept loaded (the last one asked for) and one generation runs at a time:
 * tfjs computes on this thread, so concurrent requests would only take turns, each with its own weights.
 */
import { readFile } from "node:fs/promises";
import type { Db } from "@rlhf/core/db";
import type { CompletionSettings, GPT, Tokenizer } from "@rlhf/trainer/browser";
import { keepingProcessErrorListeners } from "@rlhf/trainer/process-errors";
import { type CheckpointFileName, locateCheckpointFile } from "./checkpoint-files";

/** tfjs and the trainer, loaded on the first generation: the dashboard's other pages never need them. */
const trainer = async () => {
  const [backend, browser] = await Promise.all([
    import("@rlhf/trainer/backend"),
    import("@rlhf/trainer/browser"),
  ]);
  return { ...backend, ...browser };
};

type ServerModel = { model: GPT; tokenizer: Tokenizer };

let loaded: { checkpointId: string; checkpoint: Promise<ServerModel> } | undefined;
let queue: Promise<unknown> = Promise.resolve();

/** A checkpoint or one of its files that this server cannot find; `status` as the file route answers. */
export class CheckpointFileError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** `fn` after every generation queued before it. */
function inTurn<T>(fn: () => Promise<T>): Promise<T> {
  const run = queue.then(fn, fn);
  queue = run.catch(() => undefined);
  return run;
}

async function readCheckpointFile(db: Db, checkpointId: string, file: CheckpointFileName): Promise<Buffer> {
  const located = await locateCheckpointFile(async () => db, checkpointId, file);
  if ("error" in located) throw new CheckpointFileError(located.status, located.error);
  return readFile(located.path);
}

async function buildModel(db: Db, checkpointId: string): Promise<ServerModel> {
  const [
    { decodeSafetensors, modelFromCheckpointFiles, tokenizerFromJsonText },
    config,
    tokenizerJson,
    weights,
  ] = await Promise.all([
    trainer(),
    readCheckpointFile(db, checkpointId, "config.json"),
    readCheckpointFile(db, checkpointId, "tokenizer.json"),
    readCheckpointFile(db, checkpointId, "model.safetensors"),
  ]);
  const source = `checkpoint ${checkpointId}`;
  const tokenizer = tokenizerFromJsonText(tokenizerJson.toString("utf8"), {
    source: `${source}: tokenizer.json`,
  });
  const model = modelFromCheckpointFiles(
    {
      config: JSON.parse(config.toString("utf8")),
      tokenizer,
      weights: decodeSafetensors(weights, `${source}: model.safetensors`),
    },
    source,
    { trainable: false },
  );
  return { model, tokenizer };
}

async function modelFor(db: Db, checkpointId: string): Promise<{ checkpoint: ServerModel; loadMs: number }> {
  if (loaded?.checkpointId === checkpointId) return { checkpoint: await loaded.checkpoint, loadMs: 0 };
  const previous = loaded;
  loaded = undefined;
  if (previous) (await previous.checkpoint.catch(() => undefined))?.model.dispose();
  const started = performance.now();
  const checkpoint = buildModel(db, checkpointId);
  loaded = { checkpointId, checkpoint };
  try {
    return { checkpoint: await checkpoint, loadMs: performance.now() - started };
  } catch (error) {
    loaded = undefined;
    throw error;
  }
}

export async function generateOnServer(db: Db, checkpointId: string, settings: CompletionSettings) {
  return inTurn(async () => {
    const { initBackend, complete, describeBackend } = await trainer();
    // Without the wasm module's re-throwing process listeners: a stray rejection must not crash the app.
    await keepingProcessErrorListeners(() => initBackend());
    const { checkpoint, loadMs } = await modelFor(db, checkpointId);
    const started = performance.now();
    const completion = await complete(checkpoint.model, checkpoint.tokenizer, settings);
    return {
      ...completion,
      generateMs: performance.now() - started,
      loadMs,
      backend: describeBackend(),
    };
  });
}
