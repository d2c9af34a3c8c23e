/**
 * Small seeded random numbers on the JS side, so that initialisation and sampling give the same result
 * on every tfjs backend (tfjs's own seeded ops are not guaranteed to agree across backends).
 */

export { hashSeed, mulberry32 } from "@rlhf/core/random";

/** `count` samples of N(0, std²) from `random` (Box-Muller). */
export function normalSamples(count: number, std: number, random: () => number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const u1 = 1 - random(); // (0, 1]: log stays finite
    const u2 = random();
    const r = Math.sqrt(-2 * Math.log(u1)) * std;
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < count) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}
