/**
 * `rlhf compress` / `rlhf decompress`: a file through a checkpoint's language model and an arithmetic
 * coder (src/compress). Decompression finds the checkpoint and the backend in the file's header unless told
 * otherwise; the output is written to a temporary file and renamed only once it checks out.
 */
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { openDatabase } from "@rlhf/core/db";
import { runs } from "@rlhf/core/schema";
import { SingleBar } from "cli-progress";
import { desc, eq } from "drizzle-orm";
import { type BackendPreference, initBackend } from "../backend";
import { loadCheckpoint } from "../checkpoint";
import { compress, decompress, readHeader, usesNativeKernels } from "../compress";
import { numericsOfBackend } from "../compress/backend-numerics";
import { resolveCheckpointRef } from "../jobs/execute";
import { cliCheckpoint, cliPath } from "./files";

async function readInput(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(cliPath(file)));
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    throw new Error(`${file}: ${missing ? `no such file (${cliPath(file)})` : (error as Error).message}`);
  }
}

/** Writes `bytes` to `file` all at once: a temporary file beside it, renamed over it. */
async function writeOutput(file: string, bytes: Uint8Array): Promise<string> {
  const target = cliPath(file);
  const temporary = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
  try {
    await writeFile(temporary, bytes);
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new Error(`${file}: ${(error as Error).message}`);
  }
  return target;
}

/**
 * The checkpoint's directory and, for a run's checkpoint, the block size it was trained on: positions past
 * it were never trained (the demo's model has 96 positions and learned on blocks of 64), so chunks default
 * to it.
 */
async function checkpointDirectory(ref: string): Promise<{ dir: string; blockSize?: number }> {
  const given = cliCheckpoint(ref);
  if (!given.startsWith("run:")) return { dir: given };
  const database = await openDatabase();
  try {
    const dir = await resolveCheckpointRef(database, given);
    const [run] = await database.db
      .select({ config: runs.config })
      .from(runs)
      .where(
        /^[0-9a-f-]{36}$/i.test(given.slice(4)) ? eq(runs.id, given.slice(4)) : eq(runs.name, given.slice(4)),
      )
      .orderBy(desc(runs.createdAt))
      .limit(1);
    const blockSize = (run?.config as { blockSize?: unknown } | undefined)?.blockSize;
    return typeof blockSize === "number" ? { dir, blockSize } : { dir };
  } finally {
    await database.close();
  }
}

function formatBytes(n: number): string {
  return n < 1024
    ? `${n} B`
    : n < 1024 ** 2
      ? `${(n / 1024).toFixed(1)} KB`
      : `${(n / 1024 ** 2).toFixed(2)} MB`;
}

/** A progress bar of bytes with their rate, on stderr. */
function bytesBar(label: string) {
  const bar = new SingleBar({
    format: `${label} [{bar}] {percentage}% | {done} / {all} | {speed}/s | {eta_formatted} left`,
    hideCursor: true,
    etaBuffer: 50,
    noTTYOutput: false,
    stream: process.stderr,
  });
  const started = performance.now();
  let running = false;
  return {
    update(done: number, total: number) {
      const payload = {
        done: formatBytes(done),
        all: formatBytes(total),
        speed: formatBytes(Math.round(done / Math.max((performance.now() - started) / 1000, 1e-3))),
      };
      if (!running) {
        bar.start(Math.max(total, 1), done, payload);
        running = true;
      } else bar.update(done, payload);
    },
    stop() {
      if (running) bar.stop();
    },
    seconds: () => (performance.now() - started) / 1000,
  };
}

export async function compressCommand(
  input: string,
  output: string,
  options: { checkpoint: string; backend: string; context?: string; lanes?: string; json?: boolean },
): Promise<void> {
  const bytes = await readInput(input);
  const { dir, blockSize } = await checkpointDirectory(options.checkpoint);
  const backend = await initBackend(options.backend as BackendPreference);
  const { model, tokenizer } = await loadCheckpoint(dir, { trainable: false });
  const contextTokens =
    options.context === undefined
      ? Math.min(blockSize ?? model.config.nPositions, model.config.nPositions)
      : Number(options.context);
  const bar = bytesBar("compress");
  try {
    const result = await compress(model, tokenizer, bytes, {
      checkpointRef: cliCheckpoint(options.checkpoint), // a directory made absolute: decompress may run elsewhere
      numerics: numericsOfBackend(backend),
      contextTokens,
      lanes: options.lanes === undefined ? undefined : Number(options.lanes),
      onProgress: (done, total) => bar.update(done, total),
    });
    bar.stop();
    const seconds = bar.seconds();
    const written = await writeOutput(output, result.file);
    const figures = {
      input: cliPath(input),
      output: written,
      bytes: bytes.length,
      compressedBytes: result.file.length,
      bitsPerByte: bytes.length > 0 ? (result.file.length * 8) / bytes.length : null,
      payloadBitsPerByte: bytes.length > 0 ? (result.header.payloadBytes * 8) / bytes.length : null,
      modelBitsPerByte: bytes.length > 0 ? result.modelBits / bytes.length : null,
      tokens: result.header.tokens,
      seconds,
      bytesPerSecond: bytes.length / seconds,
      contextTokens,
      backend: result.header.numerics,
    };
    if (options.json) {
      process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
      return;
    }
    const bpb = (v: number | null) => (v === null ? "—" : v.toFixed(3));
    process.stdout.write(
      `${input}: ${bytes.length.toLocaleString("en")} bytes → ${result.file.length.toLocaleString("en")} bytes ` +
        `(${bpb(figures.bitsPerByte)} bits/byte with the header, ${bpb(figures.payloadBitsPerByte)} coded, ` +
        `${bpb(figures.modelBitsPerByte)} the model's cross-entropy) in ${seconds.toFixed(1)} s ` +
        `(${Math.round(figures.bytesPerSecond).toLocaleString("en")} bytes/s; chunks of ${contextTokens} tokens) → ${written}\n`,
    );
  } finally {
    bar.stop();
    model.dispose();
  }
}

export async function decompressCommand(
  input: string,
  output: string,
  options: { checkpoint?: string; backend?: string },
): Promise<void> {
  const file = await readInput(input);
  const header = readHeader(file, input);
  const ref = options.checkpoint ?? header.checkpoint.ref;
  const { dir } = await checkpointDirectory(ref);
  // The file's own backend unless told otherwise: that is the one whose numerics match. On wasm, the
  // native kernels on or off as the file had them (RLHF_NATIVE_KERNELS=0 still keeps them off).
  const backend = await initBackend((options.backend ?? header.backend) as BackendPreference, {
    nativeKernels: usesNativeKernels(header.numerics),
  });
  const { model, tokenizer } = await loadCheckpoint(dir, { trainable: false });
  const bar = bytesBar("decompress");
  try {
    const bytes = await decompress(model, tokenizer, file, {
      checkpointRef: ref,
      numerics: numericsOfBackend(backend),
      source: input,
      onProgress: (done, total) => bar.update(done, total),
    });
    bar.stop();
    const seconds = bar.seconds();
    const written = await writeOutput(output, bytes);
    process.stdout.write(
      `${input}: ${bytes.length.toLocaleString("en")} bytes restored (SHA-256 checked) in ${seconds.toFixed(1)} s ` +
        `(${Math.round(bytes.length / seconds).toLocaleString("en")} bytes/s) → ${written}\n`,
    );
  } finally {
    bar.stop();
    model.dispose();
  }
}
