/**
 * A checkpoint as a compressor, measured: the demo corpus's held-out split and the primer's Fibonacci line
 * through `compress` (arithmetic coding on the model's next-token distribution), beside the run's own
 * eval/bits_per_byte, the 5-gram Kneser–Ney baseline on the same held-out batches, and gzip -9, brotli
 * (quality 11) and xz -9e on the same bytes; compression and decompression speed in bytes/s (every
 * decompression is checked byte for byte).
 *
 *   pnpm bench:compress [--checkpoint run:demo-pretrain | <dir>] [--lanes n] [--fibonacci-steps 600] [--json]
 *
 * With run:<name> the texts come from the run's dataset in the database (DATABASE_URL); with a directory
 * the demo corpus is regenerated (its held-out split is every 20th text, as `rlhf db seed-demo` stores it).
 */
import { execFileSync } from "node:child_process";
import os from "node:os";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { parseJobConfig } from "@rlhf/core/configs";
import { demoStages, generateDemo } from "@rlhf/core/demo";
import { initBackend } from "@rlhf/trainer/backend";
import { loadCheckpoint } from "@rlhf/trainer/checkpoint";
import { compress, decompress, numericsOfBackend } from "@rlhf/trainer/compress";
import { packedBatch, sequentialBatches, tokenStream } from "@rlhf/trainer/data";
import { GPT, gptConfig, maskedCrossEntropy, mulberry32 } from "@rlhf/trainer/model";
import { ngramBaseline } from "@rlhf/trainer/ngram";
import { DEFAULT_SPECIAL_TOKENS, type Tokenizer, trainBpe } from "@rlhf/trainer/tokenizer";
import * as tf from "@tensorflow/tfjs";

const argv = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? (argv[i + 1] as string) : fallback;
};
const checkpointRef = option("checkpoint", "run:demo-pretrain");
const lanesOption = option("lanes", "");
const lanes = lanesOption === "" ? undefined : Number(lanesOption); // undefined: compress's default
const asJson = argv.includes("--json");
const fibonacciSteps = Number(option("fibonacci-steps", "600"));
const say = (line: string) => {
  if (!asJson) console.log(line);
};

/** The primer's line: a model that knows the rule needs few bits for it. */
const FIBONACCI_LINE = "0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, …";

async function corpusAndCheckpoint(): Promise<{ dir: string; train: string[]; heldOut: string[] }> {
  if (!checkpointRef.startsWith("run:")) {
    const { corpus } = generateDemo();
    return {
      dir: checkpointRef,
      train: corpus.filter((_, i) => i % 20 !== 0),
      heldOut: corpus.filter((_, i) => i % 20 === 0),
    };
  }
  const { openDatabase } = await import("@rlhf/core/db");
  const { loadTexts } = await import("@rlhf/trainer/data");
  const { resolveCheckpointRef } = await import("@rlhf/trainer");
  const database = await openDatabase();
  try {
    const dir = await resolveCheckpointRef(database, checkpointRef);
    const dataset = parseJobConfig("pretrain", { dataset: "demo-corpus" }).dataset;
    return {
      dir,
      train: await loadTexts(database, dataset, "train"),
      heldOut: await loadTexts(database, dataset, "eval"),
    };
  } finally {
    await database.close();
  }
}

function xzBits(bytes: Uint8Array): number | null {
  try {
    return execFileSync("xz", ["-9e", "-c", "--format=xz"], { input: bytes, maxBuffer: 1 << 28 }).length * 8;
  } catch {
    return null; // no xz binary here
  }
}

const brotliBits = (bytes: Uint8Array) =>
  brotliCompressSync(bytes, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 11,
      [constants.BROTLI_PARAM_LGWIN]: 24,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  }).length * 8;

/**
 * A model that has seen the rule but never the line: a tiny GPT trained on sequences that follow the
 * Fibonacci rule from random starts (never two consecutive Fibonacci numbers, so never a piece of the
 * primer's line). A few hundred Adam steps here rather than a pretraining run, which needs the database.
 */
async function fibonacciModel(steps: number): Promise<{ model: GPT; tokenizer: Tokenizer; loss: number }> {
  const random = mulberry32(7);
  const consecutive = new Set<string>();
  for (let [a, b, i] = [0, 1, 0]; i < 40; i++, [a, b] = [b, a + b]) consecutive.add(`${a},${b}`);
  const texts: string[] = [];
  while (texts.length < 3000) {
    const terms = [Math.floor(random() * 60), Math.floor(random() * 60)];
    if (consecutive.has(`${terms[0]},${terms[1]}`)) continue;
    while (terms.length < 16) terms.push(terms.at(-1)! + terms.at(-2)!);
    texts.push(`${terms.join(", ")}, …`);
  }
  const tokenizer = trainBpe(texts, { vocabSize: 300, specialTokens: DEFAULT_SPECIAL_TOKENS });
  const stream = tokenStream(tokenizer, texts).tokens;
  const model = new GPT(
    gptConfig("tiny", { vocabSize: tokenizer.vocabSize, nPositions: 64, nEmbd: 64, nLayer: 2, nHead: 2 }),
    { seed: 1 },
  );
  const optimizer = tf.train.adam(3e-3);
  let loss = Number.NaN;
  for (let step = 0; step < steps; step++) {
    const batch = packedBatch(stream, 16, 64, 1, step);
    const value = optimizer.minimize(
      () =>
        maskedCrossEntropy(
          model.forward(tf.tensor2d(batch.x, [16, 64], "int32"), { returnHidden: false }).logits!,
          tf.tensor2d(batch.y, [16, 64], "int32"),
        ),
      true,
      model.trainableVariables(),
    )!;
    loss = (await value.data())[0]!;
    value.dispose();
  }
  optimizer.dispose();
  return { model, tokenizer, loss };
}

async function main(): Promise<void> {
  say(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}, ${os.cpus().length} cores`,
  );
  const { dir, train, heldOut } = await corpusAndCheckpoint();
  const backend = await initBackend("wasm");
  const numerics = numericsOfBackend(backend);
  const { model, tokenizer, trainerState } = await loadCheckpoint(dir, { trainable: false });
  const stages = parseJobConfig("pretrain", { dataset: "demo-corpus", ...demoPretrainShape() });
  const blockSize = Math.min(stages.blockSize, model.config.nPositions);
  say(
    `checkpoint ${checkpointRef} (${dir}), ${model.numParams().toLocaleString("en")} parameters, context ${model.config.nPositions}, trained on blocks of ${blockSize}; ${backend.name}`,
  );

  // The run's eval/bits_per_byte, from its final eval/loss and the held-out stream's bytes per token.
  const held = tokenStream(tokenizer, heldOut);
  const bytesPerToken = held.bytes / held.tokens.length;
  const evalLoss = Number(trainerState?.metrics?.["eval/loss"]);
  const runBitsPerByte = evalLoss / Math.LN2 / bytesPerToken;

  // The 5-gram baseline on the same held-out batches the run evaluates.
  const evalBatches = sequentialBatches(held.tokens, stages.batchSize, blockSize, stages.evalBatches);
  const baseline = ngramBaseline({
    train: [tokenStream(tokenizer, train).tokens],
    evalBatches,
    bytesPerToken,
    vocabSize: tokenizer.vocabSize,
    order: 5,
  });

  const rows: Record<string, unknown>[] = [];
  const measure = async (name: string, text: string, contextTokens: number, m = { model, tokenizer }) => {
    const input = new TextEncoder().encode(text);
    let started = performance.now();
    const result = await compress(m.model, m.tokenizer, input, {
      checkpointRef,
      numerics,
      contextTokens,
      lanes,
    });
    const compressSeconds = (performance.now() - started) / 1000;
    started = performance.now();
    const output = await decompress(m.model, m.tokenizer, result.file, { checkpointRef, numerics });
    const decompressSeconds = (performance.now() - started) / 1000;
    if (Buffer.compare(Buffer.from(output), Buffer.from(input)) !== 0)
      throw new Error(`${name}: round-trip differs`);
    const perByte = (bits: number | null) => (bits === null ? null : bits / input.length);
    const row = {
      name,
      bytes: input.length,
      tokens: result.header.tokens,
      contextTokens,
      fileBitsPerByte: perByte(result.file.length * 8),
      payloadBitsPerByte: perByte(result.header.payloadBytes * 8),
      modelBitsPerByte: perByte(result.modelBits),
      gzipBitsPerByte: perByte(gzipSync(input, { level: 9 }).length * 8),
      brotliBitsPerByte: perByte(brotliBits(input)),
      xzBitsPerByte: perByte(xzBits(input)),
      compressBytesPerSecond: input.length / compressSeconds,
      decompressBytesPerSecond: input.length / decompressSeconds,
    };
    rows.push(row);
    const f = (v: number | null) => (v === null ? "—" : v.toFixed(3));
    say(
      `${name.padEnd(38)} ${String(input.length).padStart(6)} B  model ${f(row.modelBitsPerByte)}  coded ${f(row.payloadBitsPerByte)}  file ${f(row.fileBitsPerByte)}  gzip ${f(row.gzipBitsPerByte)}  brotli ${f(row.brotliBitsPerByte)}  xz ${f(row.xzBitsPerByte)}  ${Math.round(row.compressBytesPerSecond)} / ${Math.round(row.decompressBytesPerSecond)} B/s`,
    );
  };

  say(
    `run's eval/bits_per_byte ${runBitsPerByte.toFixed(3)} (eval/loss ${evalLoss.toFixed(4)} nats/token, ${bytesPerToken.toFixed(2)} bytes/token, ${evalBatches.length} batches of ${stages.batchSize}×${blockSize})`,
  );
  say(
    `5-gram Kneser–Ney on the same batches: ${baseline.bitsPerByte.toFixed(3)} bits/byte (${baseline.ngrams.toLocaleString("en")} n-grams, ${baseline.seconds.toFixed(1)} s)`,
  );
  say(
    "bits per byte (model = −log₂ p of the tokens; coded = the arithmetic coder's payload; file = with header and checksum); compress / decompress speed",
  );
  await measure("held-out split, a text per line", heldOut.join("\n"), blockSize);
  await measure("held-out split, texts joined by spaces", heldOut.join(" "), blockSize);
  await measure(
    `held-out split, a text per line, ctx ${model.config.nPositions}`,
    heldOut.join("\n"),
    model.config.nPositions,
  );
  await measure("the primer's Fibonacci line", FIBONACCI_LINE, blockSize);
  if (fibonacciSteps > 0) {
    const started = performance.now();
    const fib = await fibonacciModel(fibonacciSteps);
    say(
      `a 2-layer GPT trained ${fibonacciSteps} steps on Fibonacci-rule sequences from random starts (loss ${fib.loss.toFixed(3)}, ${((performance.now() - started) / 1000).toFixed(0)} s):`,
    );
    await measure("the Fibonacci line, by a model of the rule", FIBONACCI_LINE, 64, fib);
    fib.model.dispose();
  }
  say(
    `load average at the end ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  if (asJson) {
    console.log(
      JSON.stringify(
        {
          checkpoint: checkpointRef,
          backend: numerics.id,
          lanes: lanes ?? "default",
          runBitsPerByte,
          ngram: baseline,
          rows,
        },
        null,
        2,
      ),
    );
  }
  model.dispose();
}

/** The demo's pretraining block and batch size, as `rlhf pipeline --demo` runs them. */
function demoPretrainShape() {
  const { batchSize, blockSize } = demoStages(false, 1234).pretrain;
  return { batchSize, blockSize };
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
