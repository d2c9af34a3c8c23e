/**
 * The compression fact of a language-model run: its final model compresses (the start of) its held-out
 * text to X bits per byte, beside gzip -9 on the same bytes. The run page shows it in the model facts.
 * Node only (gzip from node:zlib); the trainer loop calls it once, after the final checkpoint.
 */
import { gzipSync } from "node:zlib";
import type { BackendInfo } from "../backend";
import type { GPT } from "../model";
import type { Tokenizer } from "../tokenizer/bpe";
import { numericsOfBackend } from "./backend-numerics";
import { compress } from "./codec";

/** Metric keys the fact is logged under (at the run's last step). */
export const COMPRESSION_METRICS = {
  bitsPerByte: "compress/bits_per_byte",
  gzipBitsPerByte: "compress/gzip_bits_per_byte",
  bytes: "compress/bytes",
} as const;

export interface CompressionFact {
  /** The whole compressed file (header and checksum included), in bits per original byte. */
  bitsPerByte: number;
  gzipBitsPerByte: number;
  /** Bytes compressed: the held-out texts, one per line, cut at `maxBytes` on a text boundary. */
  bytes: number;
  seconds: number;
}

/**
 * Compresses the held-out texts (one per line, as a text file would hold them) with the model, in chunks
 * of `contextTokens` (the run's block size), and gzip -9 on the same bytes. About 2 KB/s for the demo's model
 * on wasm: `maxBytes` (default 16 KB) bounds the time.
 */
export async function compressionFact(o: {
  model: GPT;
  tokenizer: Tokenizer;
  heldOutTexts: readonly string[];
  backend: BackendInfo;
  contextTokens: number;
  checkpointRef: string;
  maxBytes?: number;
}): Promise<CompressionFact | undefined> {
  const maxBytes = o.maxBytes ?? 16_384;
  const taken: string[] = [];
  let length = 0;
  for (const text of o.heldOutTexts) {
    const bytes = new TextEncoder().encode(text).length + (taken.length > 0 ? 1 : 0);
    if (length + bytes > maxBytes && taken.length > 0) break;
    taken.push(text);
    length += bytes;
  }
  const input = new TextEncoder().encode(taken.join("\n"));
  if (input.length === 0) return undefined;
  const started = performance.now();
  const { file } = await compress(o.model, o.tokenizer, input, {
    checkpointRef: o.checkpointRef,
    numerics: numericsOfBackend(o.backend),
    contextTokens: Math.min(o.contextTokens, o.model.config.nPositions),
  });
  return {
    bitsPerByte: (file.length * 8) / input.length,
    gzipBitsPerByte: (gzipSync(input, { level: 9 }).length * 8) / input.length,
    bytes: input.length,
    seconds: (performance.now() - started) / 1000,
  };
}
