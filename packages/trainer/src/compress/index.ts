/**
 * A checkpoint as a lossless compressor (`rlhf compress` / `rlhf decompress`, the playground's box): see
 * codec.ts. No Node imports in this folder; @rlhf/trainer/browser exports it.
 */
export { ArithmeticDecoder, ArithmeticEncoder, MAX_FREQUENCY_TOTAL } from "./arithmetic-coder";
export {
  type CompressOptions,
  type CompressResult,
  compress,
  type DecompressOptions,
  decompress,
  defaultLanes,
  describeNumerics,
  modelFingerprint,
  type Numerics,
  tokenizerFingerprint,
} from "./codec";
export {
  CompressedFileError,
  type CompressedHeader,
  FORMAT_VERSION,
  readCompressed,
  readHeader,
  sha256Hex,
} from "./container";
export { numericsRefusal, usesNativeKernels } from "./numerics-match";
export { FREQUENCY_TOTAL, quantiseDistribution } from "./quantise";
export { bytesToTokens, tokenByteTable, tokensToBytes } from "./token-bytes";
