import { writeFile } from "node:fs/promises";
import { openDatabase } from "@rlhf/core/db";
import { describeDevice, initBackend } from "../backend";
import { loadCheckpoint } from "../checkpoint";
import { loadTexts } from "../data";
import { resolveCheckpointRef } from "../jobs/execute";
import { generate } from "../model";
import { serializeTokenizerJson, trainBpe } from "../tokenizer";
import { cliCheckpoint, cliPath } from "./files";

export async function tokenizerTrainCommand(options: {
  out: string;
  dataset: string;
  vocabSize: string;
}): Promise<void> {
  const database = await openDatabase();
  try {
    const texts = await loadTexts(database, options.dataset, "train");
    const started = Date.now();
    const tokenizer = trainBpe(texts, { vocabSize: Number(options.vocabSize) });
    const out = cliPath(options.out);
    await writeFile(out, serializeTokenizerJson(tokenizer));
    process.stdout.write(
      `trained ${tokenizer.vocabSize} tokens on ${texts.length} texts in ${((Date.now() - started) / 1000).toFixed(1)} s → ${out}\n`,
    );
  } finally {
    await database.close();
  }
}

export async function generateCommand(options: {
  checkpoint: string;
  prompt?: string[];
  chat?: boolean;
  maxNewTokens: string;
  temperature: string;
  topK: string;
  topP: string;
  seed: string;
  backend: string;
  json?: boolean;
}): Promise<void> {
  let dir = cliCheckpoint(options.checkpoint);
  if (dir.startsWith("run:")) {
    const database = await openDatabase();
    try {
      dir = await resolveCheckpointRef(database, dir);
    } finally {
      await database.close();
    }
  }
  const backend = await initBackend(options.backend as "auto");
  process.stderr.write(`backend: ${backend.name} (${describeDevice(backend)})\n`);
  const { model, tokenizer } = await loadCheckpoint(dir);
  try {
    const prompts = options.prompt?.length ? options.prompt : [""];
    const ids = prompts.map((p) =>
      options.chat
        ? tokenizer.formatChat(p).ids
        : p === ""
          ? [tokenizer.eosId]
          : tokenizer.encode(p, { allowSpecial: false }),
    );
    const started = performance.now();
    const { tokens } = await generate(model, ids, {
      maxNewTokens: Number(options.maxNewTokens),
      temperature: Number(options.temperature),
      topK: Number(options.topK),
      topP: Number(options.topP),
      seed: Number(options.seed),
      eosTokenId: tokenizer.eosId,
      padTokenId: tokenizer.padId,
    });
    const seconds = (performance.now() - started) / 1000;
    const outputs = prompts.map((prompt, i) => ({
      prompt,
      completion: tokenizer.decode(tokens[i]!, { skipSpecial: true }),
    }));
    if (options.json) process.stdout.write(`${JSON.stringify(outputs, null, 2)}\n`);
    else for (const o of outputs) process.stdout.write(`${o.prompt}\x1b[1m${o.completion}\x1b[0m\n\n`);
    const count = tokens.reduce((n, t) => n + t.length, 0);
    process.stderr.write(
      `${count} tokens in ${seconds.toFixed(2)} s (${(count / seconds).toFixed(0)} tokens/s)\n`,
    );
  } finally {
    model.dispose();
  }
}
