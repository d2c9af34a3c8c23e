/** The n-gram baseline: interpolated modified Kneser–Ney over the run's tokens (see kneser-ney.ts). */
export { NGRAM_BITS_PER_BYTE, type NgramBaseline, type NgramBaselineInput, ngramBaseline } from "./baseline";
export { KneserNey } from "./kneser-ney";
