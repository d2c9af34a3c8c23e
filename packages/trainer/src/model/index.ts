export * from "./config";
export * from "./generate";
export * from "./gpt";
export * from "./lora";
export * from "./ops";
export { hashSeed, mulberry32, normalSamples } from "./rng";
