/**
 * A checkpoint as a lossless compressor: arithmetic coding driven by the model's next-token distribution
 * (an LLM is a compressor: a token the model gives probability p costs −log₂ p bits).
 *
 * Encoder and decoder must see bit-identical probabilities, so both run the same tensor program: one
 * function (`codeTokens`) makes every model call, one token per lane per call with a KV cache, and the only
 * difference between the two sides is whether a lane's next token comes from the input (encoding) or from
 * the coder (decoding). The encoder never batches the whole input in one forward pass, whose last bits
 * could differ from the step-by-step ones. What could still change the numbers — another checkpoint,
 * tokenizer, backend, kernels or tfjs version — is recorded in the header, and decoding refuses a mismatch.
 *
 * Long inputs are cut into chunks of `contextTokens` tokens; each chunk starts a fresh context at
 * <|endoftext|> (chunking, not a sliding window: a window would need a full forward pass per token), and
 * `lanes` chunks are coded side by side as one batch. No Node imports: the playground runs this too.
 */
import * as tf from "@tensorflow/tfjs";
import { disposeCache, type GPT, type KVCache } from "../model";
import type { Tokenizer } from "../tokenizer/bpe";
import { ArithmeticDecoder, ArithmeticEncoder, type CumulativeFrequencies } from "./arithmetic-coder";
import {
  CompressedFileError,
  type CompressedHeader,
  FORMAT_VERSION,
  readCompressed,
  sha256Hex,
  writeCompressed,
} from "./container";
import { numericsRefusal } from "./numerics-match";
import { FREQUENCY_TOTAL, quantiseDistribution } from "./quantise";
import { bytesToTokens, tokenByteTable, tokensToBytes } from "./token-bytes";

/** What computes the probabilities; two sides with the same `id` compute the same bits. */
export interface Numerics {
  /** tfjs backend name ("wasm", "cpu", "webgl", …). */
  backend: string;
  /**
   * Everything that can change the last bits: backend, device, replaced kernels (and what the native
   * kernels were built for), tfjs version, runtime.
   */
  id: string;
  /** Wasm in Node with the native kernels off: why (for the message refusing a file that needs them). */
  nativeKernelsOff?: string;
}

/** The numerics of a backend described by its parts (the CLI's from BackendInfo, the playground's from tf.env). */
export function describeNumerics(parts: {
  backend: string;
  device: string;
  kernels?: readonly string[];
  runtime: "node" | "browser";
}): Numerics {
  const kernels = parts.kernels && parts.kernels.length > 0 ? parts.kernels.join("+") : "stock";
  return {
    backend: parts.backend,
    id: `${parts.backend} · ${parts.device} · kernels ${kernels} · tfjs ${tf.version.tfjs} · ${parts.runtime}`,
  };
}

export interface CoderOptions {
  numerics: Numerics;
  /** Called with bytes done and bytes in all, about every 100 ms. */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /** Stops between model calls with an error. */
  signal?: AbortSignal;
}

export interface CompressOptions extends CoderOptions {
  /** How the checkpoint was named, recorded in the header for error messages. */
  checkpointRef: string;
  /** Tokens per chunk (default: the model's context). */
  contextTokens?: number;
  /** Chunks coded side by side (default: `defaultLanes`). */
  lanes?: number;
}

export interface CompressResult {
  file: Uint8Array;
  header: CompressedHeader;
  /** −log₂ of the model's float probabilities of the tokens (before quantising), summed: the ideal code length. */
  modelBits: number;
  /** −log₂ of the quantised probabilities actually coded, summed. */
  quantisedBits: number;
}

/** Memory the lanes' KV caches may take together (float32 keys and values of every layer and position). */
const KV_CACHE_BUDGET_BYTES = 256 * 2 ** 20;

/**
 * Lanes by default: as many chunks side by side as fit the KV-cache budget, at most 64 (the demo's model:
 * 64, ~1.5× the throughput of 16; GPT-2 small at 1024 tokens: 3).
 */
export function defaultLanes(model: GPT, contextTokens: number): number {
  const perLane = model.config.nLayer * contextTokens * model.config.nEmbd * 2 * 4;
  return Math.max(1, Math.min(64, Math.floor(KV_CACHE_BUDGET_BYTES / perLane)));
}

const fingerprints = new WeakMap<object, Promise<string>>();

/**
 * SHA-256 of the model's config and LM weights (heads that do not touch the logits left out). Computed once
 * per model object: for a model that is still training, hash a copy (`model.clone()`).
 */
export function modelFingerprint(model: GPT): Promise<string> {
  let hash = fingerprints.get(model);
  if (!hash) {
    hash = (async () => {
      const parts: Uint8Array[] = [new TextEncoder().encode(JSON.stringify(model.config))];
      for (const name of [...model.params.keys()].sort()) {
        if (name.startsWith("v_head.") || name.startsWith("score.")) continue;
        const param = model.params.get(name)!;
        const data = (await param.data()) as Float32Array;
        parts.push(new TextEncoder().encode(`${name}[${param.shape}]`));
        parts.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      }
      return sha256Hex(parts);
    })();
    fingerprints.set(model, hash);
  }
  return hash;
}

/** SHA-256 of the tokenizer's vocabulary, merges and added tokens. */
export function tokenizerFingerprint(tokenizer: Tokenizer): Promise<string> {
  let hash = fingerprints.get(tokenizer);
  if (!hash) {
    const vocab = [...tokenizer.vocabEntries()].sort((a, b) => a[1] - b[1]);
    const added = tokenizer.addedTokens.map((t) => [t.id, t.content, t.special]);
    hash = sha256Hex(new TextEncoder().encode(JSON.stringify([vocab, tokenizer.merges, added])));
    fingerprints.set(tokenizer, hash);
  }
  return hash;
}

interface CodingPlan {
  tokens: number;
  contextTokens: number;
  lanes: number;
  bytes: number;
}

/**
 * Runs the model over every chunk, lanes side by side, one position per call, and asks `code` for the token
 * at each position given its quantised distribution. Encoder and decoder both go through here.
 */
async function codeTokens(
  model: GPT,
  startId: number,
  plan: CodingPlan,
  code: (index: number, cumulative: CumulativeFrequencies, probability: (token: number) => number) => number,
  bytesOf: (token: number) => number,
  options: CoderOptions,
): Promise<void> {
  const vocab = model.config.vocabSize;
  const { tokens, contextTokens, lanes } = plan;
  const chunks = Math.ceil(tokens / contextTokens);
  const cumulative = new Uint32Array(vocab + 1);
  let bytesDone = 0;
  let lastReport = Date.now();
  for (let first = 0; first < chunks; first += lanes) {
    const batch = Math.min(lanes, chunks - first);
    const steps = Math.min(contextTokens, tokens - first * contextTokens);
    const inputs = new Int32Array(batch).fill(startId);
    let cache: KVCache | undefined;
    try {
      for (let step = 0; step < steps; step++) {
        if (options.signal?.aborted) throw new Error("stopped");
        const past = cache;
        const out = tf.tidy(() => {
          const { logits, kvCache } = model.forward(tf.tensor2d(inputs, [batch, 1], "int32"), {
            kvCache: past,
            useCache: true,
            logits: "last",
            returnHidden: false,
          });
          return { probabilities: tf.softmax(logits!), kvCache: kvCache! }; // [batch, 1, V]
        });
        if (past) disposeCache(past);
        cache = out.kvCache;
        const probabilities = (await out.probabilities.data()) as Float32Array;
        out.probabilities.dispose();
        for (let lane = 0; lane < batch; lane++) {
          const index = (first + lane) * contextTokens + step;
          // Lanes whose chunk has ended (the last chunk is short) are fed <|endoftext|> and not coded.
          if (index >= tokens) continue;
          quantiseDistribution(probabilities, lane * vocab, vocab, cumulative);
          const token = code(index, cumulative, (t) => probabilities[lane * vocab + t]!);
          inputs[lane] = token;
          bytesDone += bytesOf(token);
        }
        if (Date.now() - lastReport >= 100) {
          lastReport = Date.now();
          options.onProgress?.(bytesDone, plan.bytes);
          // A macrotask turn: a page repaints, a Ctrl-C or an abort gets through.
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      }
    } finally {
      if (cache) disposeCache(cache);
    }
  }
  options.onProgress?.(bytesDone, plan.bytes);
}

function bitsOf(cumulative: CumulativeFrequencies, token: number): number {
  return -Math.log2((cumulative[token + 1]! - cumulative[token]!) / cumulative[cumulative.length - 1]!);
}

/** `input` compressed with `model`: a file `decompress` turns back into exactly these bytes. */
export async function compress(
  model: GPT,
  tokenizer: Tokenizer,
  input: Uint8Array,
  options: CompressOptions,
): Promise<CompressResult> {
  const contextTokens = options.contextTokens ?? model.config.nPositions;
  const lanes = options.lanes ?? defaultLanes(model, contextTokens);
  if (!Number.isInteger(contextTokens) || contextTokens < 1 || contextTokens > model.config.nPositions) {
    throw new RangeError(
      `contextTokens must be an integer from 1 to the model's context (${model.config.nPositions}), got ${contextTokens}`,
    );
  }
  if (!Number.isInteger(lanes) || lanes < 1)
    throw new RangeError(`lanes must be a positive integer, got ${lanes}`);
  const table = tokenByteTable(tokenizer);
  const ids = bytesToTokens(tokenizer, input, table);
  const encoder = new ArithmeticEncoder();
  let quantisedBits = 0;
  let modelBits = 0;
  await codeTokens(
    model,
    tokenizer.eosId,
    { tokens: ids.length, contextTokens, lanes, bytes: input.length },
    (index, cumulative, probability) => {
      const token = ids[index]!;
      encoder.encode(cumulative, token);
      quantisedBits += bitsOf(cumulative, token);
      // A probability that underflowed float32 counts as its smallest value, 2^-149.
      modelBits -= Math.log2(Math.max(probability(token), 2 ** -149));
      return token;
    },
    (token) => table[token]!.length,
    options,
  );
  const payload = encoder.finish();
  const header: CompressedHeader = {
    formatVersion: FORMAT_VERSION,
    checkpoint: {
      ref: options.checkpointRef,
      modelSha256: await modelFingerprint(model),
      tokenizerSha256: await tokenizerFingerprint(tokenizer),
    },
    numerics: options.numerics.id,
    backend: options.numerics.backend,
    contextTokens,
    lanes,
    frequencyTotal: FREQUENCY_TOTAL,
    tokens: ids.length,
    bytes: input.length,
    contentSha256: await sha256Hex(input),
    payloadBytes: payload.length,
  };
  return { file: await writeCompressed(header, payload), header, modelBits, quantisedBits };
}

export interface DecompressOptions extends CoderOptions {
  /** How the caller named the checkpoint it passes (for the refusal message). */
  checkpointRef: string;
  /** Names the file in errors. */
  source?: string;
}

/**
 * The original bytes of a file `compress` wrote, or an error that says why not: a damaged file, another
 * checkpoint or tokenizer, or numerics that could differ from the encoder's. Never a wrong output: the
 * result is checked against the original's SHA-256.
 */
export async function decompress(
  model: GPT,
  tokenizer: Tokenizer,
  file: Uint8Array,
  options: DecompressOptions,
): Promise<Uint8Array> {
  const source = options.source ?? "the compressed file";
  const { header, payload } = await readCompressed(file, source);
  const [modelSha, tokenizerSha] = [await modelFingerprint(model), await tokenizerFingerprint(tokenizer)];
  const short = (hash: string) => hash.slice(0, 12);
  if (header.checkpoint.modelSha256 !== modelSha) {
    throw new CompressedFileError(
      `${source} was compressed with checkpoint ${header.checkpoint.ref} (model ${short(header.checkpoint.modelSha256)}); ` +
        `${options.checkpointRef} is another model (${short(modelSha)}). Decompress it with the same checkpoint.`,
    );
  }
  if (header.checkpoint.tokenizerSha256 !== tokenizerSha) {
    throw new CompressedFileError(
      `${source} was compressed with another tokenizer (${short(header.checkpoint.tokenizerSha256)}) than ` +
        `${options.checkpointRef}'s (${short(tokenizerSha)}). Decompress it with checkpoint ${header.checkpoint.ref}.`,
    );
  }
  const refusal = numericsRefusal(source, header, options.numerics);
  if (refusal) throw new CompressedFileError(refusal);
  if (header.frequencyTotal !== FREQUENCY_TOTAL || header.contextTokens > model.config.nPositions) {
    throw new CompressedFileError(`${source} is corrupted: its coding parameters do not fit this model`);
  }
  const table = tokenByteTable(tokenizer);
  const decoder = new ArithmeticDecoder(payload);
  const ids = new Int32Array(header.tokens);
  await codeTokens(
    model,
    tokenizer.eosId,
    { tokens: header.tokens, contextTokens: header.contextTokens, lanes: header.lanes, bytes: header.bytes },
    (index, cumulative) => {
      const token = decoder.decode(cumulative);
      ids[index] = token;
      return token;
    },
    (token) => table[token]?.length ?? 0,
    options,
  );
  let output: Uint8Array;
  try {
    output = tokensToBytes(ids, table);
  } catch {
    output = new Uint8Array(0);
  }
  if (output.length !== header.bytes || (await sha256Hex(output)) !== header.contentSha256) {
    throw new CompressedFileError(
      `${source}: the decoded bytes do not match the original's SHA-256 (the file's numerics or contents are not what its header says); nothing was written`,
    );
  }
  return output;
}
