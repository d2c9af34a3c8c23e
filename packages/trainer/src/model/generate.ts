/**
 * Batched autoregressive generation with a key/value cache.
 *
 * Prompts of different lengths are left-padded (so every row's next token sits in the last column);
 * the attention mask hides the padding and positions count real tokens only, so a padded row gives
 * the same logits as the same prompt alone. Token choice happens in JS with a seeded PRNG, so a seed
 * gives the same draws on every backend.
 */
import * as tf from "@tensorflow/tfjs";
import type { GPT, KVCache } from "./gpt";
import { mulberry32 } from "./rng";

export interface GenerateOptions {
  /** Tokens to generate per row at most. */
  maxNewTokens: number;
  /** Softmax temperature (default 1). 0 means greedy. */
  temperature?: number;
  /** Always take the most likely token (same as temperature 0). */
  greedy?: boolean;
  /** Sample only among the k most likely tokens (0 or undefined: no limit). */
  topK?: number;
  /** Sample only from the smallest set of most likely tokens whose probability reaches p (default 1). */
  topP?: number;
  /** A row stops after emitting one of these. */
  eosTokenId?: number | number[];
  /** Filler for left padding and for rows that have stopped (default: the first eos id, else 0). */
  padTokenId?: number;
  /** Seed of the sampling PRNG (default 0). */
  seed?: number;
  /**
   * One seed per row instead of `seed`: each row draws from its own PRNG, so its tokens do not depend on
   * the other rows of the batch (rollouts split across data-parallel workers).
   */
  rowSeeds?: number[];
  /** Reuse keys/values of earlier positions (default true); false recomputes the whole sequence each step. */
  useCache?: boolean;
  /**
   * Called with each row's token as soon as it is chosen (streaming); returning true ends that row there,
   * as an eos would (a stop string appeared in its text).
   */
  onToken?: (row: number, token: number) => boolean | undefined;
  /**
   * Ends generation before the next step once aborted (the client went away); the tokens so far are
   * returned. With a signal, each step also lets the event loop run (a wasm read resolves as a microtask),
   * so that the I/O that aborts it — a closed socket — is seen between steps.
   */
  signal?: AbortSignal;
}

export interface GenerateResult {
  /** New tokens per row, without padding; a row that stopped ends with its eos token. */
  tokens: number[][];
  /**
   * log p of each new token under the model's distribution at the sampling temperature (before top-k /
   * top-p truncation; temperature 1 when greedy) — what PPO needs as the old policy's log-probabilities.
   */
  logProbs: number[][];
}

/** Generate continuations of `prompts` (token ids, each at least one token). */
export async function generate(
  model: GPT,
  prompts: number[][],
  options: GenerateOptions,
): Promise<GenerateResult> {
  const batch = prompts.length;
  const { maxNewTokens } = options;
  const eos = new Set(options.eosTokenId === undefined ? [] : [options.eosTokenId].flat());
  const pad = options.padTokenId ?? [...eos][0] ?? 0;
  const greedy = options.greedy === true || options.temperature === 0;
  const temperature = greedy ? 1 : (options.temperature ?? 1);
  const random = mulberry32(options.seed ?? 0);
  const rowRandom = options.rowSeeds?.map((seed) => mulberry32(seed));
  if (rowRandom && rowRandom.length !== batch) {
    throw new Error(`generate: ${rowRandom.length} rowSeeds for ${batch} prompts`);
  }
  const useCache = options.useCache ?? true;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) {
    throw new Error(`generate: maxNewTokens must be a non-negative integer, got ${maxNewTokens}`);
  }
  if (!(temperature > 0)) throw new Error(`generate: temperature must be >= 0, got ${options.temperature}`);
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new Error(`generate: prompt ${i} is empty (start it with a BOS/EOS token)`);
  });
  const longest = Math.max(0, ...prompts.map((p) => p.length));
  const tooLong = prompts.findIndex((p) => p.length + maxNewTokens > model.config.nPositions);
  if (tooLong >= 0) {
    throw new Error(
      `generate: prompt ${tooLong} (${prompts[tooLong]?.length} tokens) + maxNewTokens ${maxNewTokens} exceeds the context of ${model.config.nPositions}`,
    );
  }
  const result: GenerateResult = { tokens: prompts.map(() => []), logProbs: prompts.map(() => []) };
  if (batch === 0 || maxNewTokens === 0) return result;

  // Left-padded ids and mask, kept in JS for the uncached path: [B, longest + generated so far].
  const ids = prompts.map((p) => [...new Array<number>(longest - p.length).fill(pad), ...p]);
  const mask = prompts.map((p) => [
    ...new Array<number>(longest - p.length).fill(0),
    ...new Array<number>(p.length).fill(1),
  ]);
  const finished = new Array<boolean>(batch).fill(false);
  const vocab = model.config.vocabSize;

  let cache: KVCache | undefined;
  let maskTensor: tf.Tensor2D | undefined;
  let logits: tf.Tensor | undefined;
  try {
    // Prefill: the whole prompt, logits of the last position only.
    maskTensor = tf.tensor2d(mask, [batch, longest], "int32");
    // Keep only logits and cache: a model with a value or reward head also returns those, unused here.
    const first = tf.tidy(() => {
      const { logits, kvCache } = model.forward(tf.tensor2d(ids, [batch, longest], "int32"), {
        attentionMask: maskTensor,
        useCache,
        logits: "last",
        returnHidden: false,
      });
      return { logits, kvCache };
    });
    logits = first.logits;
    cache = first.kvCache;
    for (let step = 0; step < maxNewTokens; step++) {
      const values = (await (logits as tf.Tensor).data()) as Float32Array; // [B, 1, V]
      logits?.dispose();
      logits = undefined;
      const next = new Array<number>(batch);
      for (let row = 0; row < batch; row++) {
        if (finished[row]) {
          next[row] = pad;
          continue;
        }
        const { token, logProb } = chooseToken(
          values,
          row * vocab,
          vocab,
          { greedy, temperature, topK: options.topK, topP: options.topP },
          rowRandom?.[row] ?? random,
        );
        next[row] = token;
        result.tokens[row]?.push(token);
        result.logProbs[row]?.push(logProb);
        const stopHere = options.onToken?.(row, token) === true;
        if (eos.has(token) || stopHere) finished[row] = true;
      }
      if (options.signal) await nextTurn();
      if (step === maxNewTokens - 1 || finished.every(Boolean) || options.signal?.aborted) break;
      for (let row = 0; row < batch; row++) {
        ids[row]?.push(next[row] as number);
        mask[row]?.push(1);
      }
      const length = (ids[0] as number[]).length;
      const previousMask: tf.Tensor2D = maskTensor;
      maskTensor = tf.tidy(() => tf.concat([previousMask, tf.ones([batch, 1], "int32")], 1) as tf.Tensor2D);
      previousMask.dispose();
      if (cache) {
        const past: KVCache = cache;
        // the new token's position = real tokens before it (what forward would derive from the mask)
        const positions = mask.map((row) => [row.reduce((a, b) => a + b, 0) - 1]);
        const out = tf.tidy(() => {
          const { logits, kvCache } = model.forward(tf.tensor2d(next, [batch, 1], "int32"), {
            attentionMask: maskTensor,
            positionIds: tf.tensor2d(positions, [batch, 1], "int32"),
            kvCache: past,
            logits: "last",
            returnHidden: false,
          });
          return { logits, kvCache };
        });
        disposeCache(past);
        cache = out.kvCache;
        logits = out.logits;
      } else {
        const currentMask = maskTensor;
        logits = tf.tidy(
          () =>
            model.forward(tf.tensor2d(ids, [batch, length], "int32"), {
              attentionMask: currentMask,
              logits: "last",
              returnHidden: false,
            }).logits,
        );
      }
    }
  } finally {
    logits?.dispose();
    maskTensor?.dispose();
    if (cache) disposeCache(cache);
  }
  return result;
}

/**
 * One turn of the event loop. Node: setImmediate. A browser has none, and nested setTimeouts are clamped to
 * 4 ms (a cap of 250 tokens/s); a MessageChannel message is a macrotask without the clamp, so the page
 * paints the tokens so far and sees a click on Stop between steps.
 */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof setImmediate === "function") {
      setImmediate(resolve);
      return;
    }
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/** Dispose every tensor of a key/value cache. */
export function disposeCache(cache: KVCache): void {
  for (const layer of cache.layers) {
    layer.k.dispose();
    layer.v.dispose();
  }
}

interface Sampling {
  greedy: boolean;
  temperature: number;
  topK: number | undefined;
  topP: number | undefined;
}

/**
 * Choose a token from logits[offset .. offset+vocab) and return it with its log-probability under
 * softmax(logits / temperature) (in float64). Exported for tests.
 */
export function chooseToken(
  logits: Float32Array,
  offset: number,
  vocab: number,
  sampling: Sampling,
  random: () => number,
): { token: number; logProb: number } {
  const scaled = new Float64Array(vocab);
  let max = -Infinity;
  let argmax = 0;
  for (let i = 0; i < vocab; i++) {
    const z = (logits[offset + i] as number) / sampling.temperature;
    scaled[i] = z;
    if (z > max) {
      max = z;
      argmax = i;
    }
  }
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp((scaled[i] as number) - max);
  const logSumExp = max + Math.log(sum);
  if (sampling.greedy) return { token: argmax, logProb: max - logSumExp };

  // Candidates in decreasing probability when truncating; otherwise all tokens in id order.
  const topK = sampling.topK && sampling.topK > 0 && sampling.topK < vocab ? sampling.topK : vocab;
  const topP = sampling.topP ?? 1;
  let candidates: number[];
  if (topK < vocab || topP < 1) {
    candidates = Array.from({ length: vocab }, (_, i) => i);
    candidates.sort((a, b) => (scaled[b] as number) - (scaled[a] as number) || a - b);
    candidates.length = topK;
    if (topP < 1) {
      let mass = 0;
      let keep = 0;
      while (keep < candidates.length) {
        mass += Math.exp((scaled[candidates[keep] as number] as number) - logSumExp);
        keep += 1;
        if (mass >= topP) break;
      }
      candidates.length = keep;
    }
  } else {
    candidates = Array.from({ length: vocab }, (_, i) => i);
  }
  let total = 0;
  for (const i of candidates) total += Math.exp((scaled[i] as number) - max);
  let u = random() * total;
  let token = candidates[candidates.length - 1] as number;
  for (const i of candidates) {
    u -= Math.exp((scaled[i] as number) - max);
    if (u < 0) {
      token = i;
      break;
    }
  }
  return { token, logProb: (scaled[token] as number) - logSumExp };
}
