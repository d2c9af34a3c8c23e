/** `@rlhf/trainer/compress`: the compressor for Node (the CLI, the trainers, benchmarks, tests). */
export * from "./index";
export { numericsOfBackend } from "./backend-numerics";
export { COMPRESSION_METRICS, type CompressionFact, compressionFact } from "./run-facts";
