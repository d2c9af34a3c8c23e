/**
 * The n-gram baseline beside a language-model run: a Kneser–Ney model trained on the run's training tokens
 * and scored on exactly the held-out batches the transformer's `eval/bits_per_byte` uses (same tokenizer,
 * same blocks, same loss mask, a block's first target seeing only the tokens before it in the block).
 */
import type { LmBatch } from "../data";
import { KneserNey } from "./kneser-ney";

export interface NgramBaselineInput {
  /** Training token sequences: pretraining's one packed stream, or SFT's chat-formatted conversations. */
  train: Iterable<ArrayLike<number>>;
  /** The held-out batches the run evaluates on. */
  evalBatches: readonly LmBatch[];
  /** UTF-8 bytes per held-out token, as the run computes it for its own bits per byte. */
  bytesPerToken: number;
  vocabSize: number;
  /** n (default 5). */
  order?: number;
}

export interface NgramBaseline {
  order: number;
  /** Mean −log₂ P over the counted held-out targets. */
  bitsPerToken: number;
  /** The figure to log as `eval/ngram_bits_per_byte`. */
  bitsPerByte: number;
  /** n-grams counted, all orders. */
  ngrams: number;
  seconds: number;
}

/** The metric the baseline is logged under, next to the transformer's `eval/bits_per_byte`. */
export const NGRAM_BITS_PER_BYTE = "eval/ngram_bits_per_byte";

export function ngramBaseline(input: NgramBaselineInput): NgramBaseline {
  const started = performance.now();
  const model = new KneserNey(input.train, { order: input.order ?? 5, vocabSize: input.vocabSize });
  let bits = 0;
  let tokens = 0;
  for (const batch of input.evalBatches) {
    for (let row = 0; row < batch.batchSize; row++) {
      const x = batch.x.subarray(row * batch.length, (row + 1) * batch.length);
      for (let t = 0; t < batch.length; t++) {
        const i = row * batch.length + t;
        if (batch.mask && batch.mask[i] === 0) continue;
        // Target t follows inputs 0..t: the history is x[0..t].
        bits -= Math.log2(model.probability(x, t + 1, batch.y[i]!));
        tokens += 1;
      }
    }
  }
  const bitsPerToken = tokens > 0 ? bits / tokens : Number.NaN;
  return {
    order: model.order,
    bitsPerToken,
    bitsPerByte: bitsPerToken / input.bytesPerToken,
    ngrams: model.size,
    seconds: (performance.now() - started) / 1000,
  };
}
