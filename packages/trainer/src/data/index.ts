/**
 * Training data from the workbench's datasets: corpora packed into fixed-length blocks for pretraining,
 * chat-formatted prompt/response pairs with a loss mask for SFT. Batches are a pure function of
 * (seed, step), so a resumed run sees exactly the batches an uninterrupted one would have.
 */
import type { Database } from "@rlhf/core/db";
import { datasets, examples } from "@rlhf/core/schema";
import { and, asc, eq } from "drizzle-orm";
import { JobInputError } from "../train/context";
import { hashSeed, mulberry32 } from "../model";
import type { Tokenizer } from "../tokenizer";

export type Split = "train" | "eval";

async function datasetOfKind(database: Database, name: string, kinds: string[]) {
  const [dataset] = await database.db.select().from(datasets).where(eq(datasets.name, name));
  if (!dataset) {
    const known = await database.db.select({ name: datasets.name, kind: datasets.kind }).from(datasets);
    throw new JobInputError(
      `dataset "${name}" does not exist; datasets of kind ${kinds.join("/")}: ${
        known
          .filter((d) => kinds.includes(d.kind))
          .map((d) => d.name)
          .join(", ") || "none (run `pnpm rlhf db seed-demo` for the demo data)"
      }`,
    );
  }
  if (!kinds.includes(dataset.kind)) {
    throw new JobInputError(
      `dataset "${name}" is of kind ${dataset.kind}; this job needs ${kinds.join(" or ")}`,
    );
  }
  return dataset;
}

/** Texts of a text dataset's split, in dataset order. */
export async function loadTexts(database: Database, name: string, split: Split): Promise<string[]> {
  const dataset = await datasetOfKind(database, name, ["text"]);
  const rows = await database.db
    .select({ text: examples.text })
    .from(examples)
    .where(and(eq(examples.datasetId, dataset.id), eq(examples.split, split)))
    .orderBy(asc(examples.idx));
  return rows.map((r) => r.text ?? "").filter((t) => t.length > 0);
}

/** Prompt/response pairs of an SFT dataset's split, in dataset order. */
export async function loadPairs(
  database: Database,
  name: string,
  split: Split,
): Promise<{ prompt: string; response: string }[]> {
  const dataset = await datasetOfKind(database, name, ["sft"]);
  const rows = await database.db
    .select({ prompt: examples.prompt, response: examples.response })
    .from(examples)
    .where(and(eq(examples.datasetId, dataset.id), eq(examples.split, split)))
    .orderBy(asc(examples.idx));
  return rows
    .filter((r) => r.prompt && r.response)
    .map((r) => ({ prompt: r.prompt!, response: r.response! }));
}

/** Prompts of a prompts dataset's split, in dataset order. */
export async function loadPrompts(database: Database, name: string, split?: Split): Promise<string[]> {
  const dataset = await datasetOfKind(database, name, ["prompts", "sft"]);
  const rows = await database.db
    .select({ prompt: examples.prompt })
    .from(examples)
    .where(
      split
        ? and(eq(examples.datasetId, dataset.id), eq(examples.split, split))
        : eq(examples.datasetId, dataset.id),
    )
    .orderBy(asc(examples.idx));
  return rows.map((r) => r.prompt ?? "").filter((p) => p.length > 0);
}

/** One language-modelling batch: inputs x and targets y (x shifted by one), row-major [B, T]. */
export interface LmBatch {
  x: Int32Array;
  y: Int32Array;
  /** 1 where the target counts in the loss (absent: every position counts). */
  mask?: Float32Array;
  batchSize: number;
  length: number;
  /** Target tokens that count in the loss. */
  tokens: number;
}

/** A corpus as one token stream, each document followed by end-of-text (GPT-2's packing). */
export function tokenStream(tokenizer: Tokenizer, texts: string[]): { tokens: Int32Array; bytes: number } {
  const ids: number[] = [];
  let bytes = 0;
  const encoder = new TextEncoder();
  for (const text of texts) {
    for (const id of tokenizer.encode(text, { allowSpecial: false })) ids.push(id);
    ids.push(tokenizer.eosId);
    bytes += encoder.encode(text).length;
  }
  return { tokens: Int32Array.from(ids), bytes };
}

/** nanoGPT's get_batch: B blocks of T+1 tokens at offsets drawn from a PRNG seeded by (seed, step, micro). */
export function packedBatch(
  stream: Int32Array,
  batchSize: number,
  blockSize: number,
  seed: number,
  step: number,
  micro = 0,
): LmBatch {
  const span = stream.length - blockSize - 1;
  if (span <= 0) {
    throw new JobInputError(
      `the corpus has ${stream.length} tokens, fewer than one block of ${blockSize + 1}; lower blockSize or add data`,
    );
  }
  const random = mulberry32(hashSeed(seed, `batch/${step}/${micro}`));
  const x = new Int32Array(batchSize * blockSize);
  const y = new Int32Array(batchSize * blockSize);
  for (let b = 0; b < batchSize; b++) {
    const offset = Math.floor(random() * span);
    x.set(stream.subarray(offset, offset + blockSize), b * blockSize);
    y.set(stream.subarray(offset + 1, offset + blockSize + 1), b * blockSize);
  }
  return { x, y, batchSize, length: blockSize, tokens: batchSize * blockSize };
}

/** The first `count` consecutive blocks of a stream (a fixed evaluation set; fewer if the stream is short). */
export function sequentialBatches(
  stream: Int32Array,
  batchSize: number,
  blockSize: number,
  count: number,
): LmBatch[] {
  const batches: LmBatch[] = [];
  const blocks = Math.floor((stream.length - 1) / blockSize);
  for (let start = 0; start + batchSize <= blocks && batches.length < count; start += batchSize) {
    const x = new Int32Array(batchSize * blockSize);
    const y = new Int32Array(batchSize * blockSize);
    for (let b = 0; b < batchSize; b++) {
      const offset = (start + b) * blockSize;
      x.set(stream.subarray(offset, offset + blockSize), b * blockSize);
      y.set(stream.subarray(offset + 1, offset + blockSize + 1), b * blockSize);
    }
    batches.push({ x, y, batchSize, length: blockSize, tokens: batchSize * blockSize });
  }
  return batches;
}

/** A chat-formatted conversation: its tokens and where the response starts. */
export interface Conversation {
  ids: number[];
  responseStart: number;
}

export function encodeConversations(
  tokenizer: Tokenizer,
  pairs: { prompt: string; response: string }[],
  maxLength: number,
): { conversations: Conversation[]; dropped: number } {
  const conversations: Conversation[] = [];
  let dropped = 0;
  for (const pair of pairs) {
    const { ids, responseStart } = tokenizer.formatChat(pair.prompt, pair.response);
    // Filtered, not truncated: a cut response would teach the model to stop mid-sentence without eos.
    if (ids.length > maxLength + 1) dropped += 1;
    else conversations.push({ ids, responseStart });
  }
  return { conversations, dropped };
}

/**
 * Conversations → a right-padded batch. Targets are the next tokens; with `completionOnly` only the
 * response's tokens (and its end-of-text) count in the loss, never the prompt or the padding.
 */
export function conversationBatch(
  conversations: Conversation[],
  padId: number,
  completionOnly: boolean,
): LmBatch {
  const length = Math.max(...conversations.map((c) => c.ids.length)) - 1;
  const batchSize = conversations.length;
  const x = new Int32Array(batchSize * length).fill(padId);
  const y = new Int32Array(batchSize * length).fill(padId);
  const mask = new Float32Array(batchSize * length);
  let tokens = 0;
  for (const [b, c] of conversations.entries()) {
    for (let t = 0; t < c.ids.length - 1; t++) {
      x[b * length + t] = c.ids[t]!;
      y[b * length + t] = c.ids[t + 1]!;
      // Target t is token t+1: it belongs to the response when t+1 >= responseStart.
      if (!completionOnly || t + 1 >= c.responseStart) {
        mask[b * length + t] = 1;
        tokens += 1;
      }
    }
  }
  return { x, y, mask, batchSize, length, tokens };
}

/** Deterministic epoch order: a Fisher–Yates shuffle seeded by (seed, epoch). */
export function epochOrder(size: number, seed: number, epoch: number): number[] {
  const order = Array.from({ length: size }, (_, i) => i);
  const random = mulberry32(hashSeed(seed, `epoch/${epoch}`));
  for (let i = size - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** The items of batch number `index` when batches of `batchSize` walk through reshuffled epochs. */
export function batchIndices(size: number, batchSize: number, seed: number, index: number): number[] {
  const out: number[] = [];
  let position = index * batchSize;
  let cached: { epoch: number; order: number[] } | undefined;
  while (out.length < batchSize) {
    const epoch = Math.floor(position / size);
    if (cached?.epoch !== epoch) cached = { epoch, order: epochOrder(size, seed, epoch) };
    const order = cached.order;
    out.push(order[position % size]!);
    position += 1;
  }
  return out;
}
