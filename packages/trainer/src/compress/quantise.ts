/**
 * A model's next-token probabilities as integer frequencies for the arithmetic coder. Encoder and decoder
 * must build the same table from the same float32 probabilities, so only exactly rounded operations are
 * used (a product of a float32 and an integer, which a double holds exactly, its floor, integer sums):
 * no exp, log or division, whose last bits may differ between JS engines.
 */
import { type CumulativeFrequencies, MAX_FREQUENCY_TOTAL } from "./arithmetic-coder";

/** Frequency total of every table: the coder's maximum, so rare tokens lose as little as possible. */
export const FREQUENCY_TOTAL = MAX_FREQUENCY_TOTAL;

/**
 * Cumulative frequencies of `probabilities[offset .. offset + size)`, summing to `total`: each token gets
 * 1 + ⌊p × (total − size)⌋ (never zero, so any token can be coded), and what rounding left over or took
 * beyond `total` goes to the most likely token (the first one on a tie). Written into `out` (size + 1).
 */
export function quantiseDistribution(
  probabilities: Float32Array,
  offset: number,
  size: number,
  out: CumulativeFrequencies = new Uint32Array(size + 1),
  total = FREQUENCY_TOTAL,
): CumulativeFrequencies {
  const spread = total - size;
  if (spread < size) {
    throw new RangeError(`a vocabulary of ${size} tokens needs a frequency total above ${2 * size}`);
  }
  let sum = 0;
  let best = 0;
  let bestFrequency = -1;
  for (let i = 0; i < size; i++) {
    const p = probabilities[offset + i]!;
    if (!(p >= 0 && p <= 1)) {
      throw new RangeError(`token ${i} has probability ${p}: the model's output is not a distribution`);
    }
    const frequency = 1 + Math.floor(p * spread);
    out[i + 1] = frequency;
    sum += frequency;
    if (frequency > bestFrequency) {
      bestFrequency = frequency;
      best = i;
    }
  }
  const adjusted = bestFrequency + (total - sum);
  if (adjusted < 1) throw new RangeError(`probabilities sum to ${sum / spread}, far from 1`);
  out[best + 1] = adjusted;
  out[0] = 0;
  for (let i = 1; i <= size; i++) out[i] = out[i]! + out[i - 1]!;
  return out;
}
