/** `@rlhf/trainer/compress`: the compressor for Node (the CLI, the trainers, benchmarks, tests). */

export { numericsOfBackend } from "./backend-numerics";
export * from "./index";
export { COMPRESSION_METRICS, type CompressionFact, compressionFact } from "./run-facts";
