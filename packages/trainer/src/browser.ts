/**
 * `@rlhf/trainer/browser`: what a web page needs to run a checkpoint on the user's device — the GPT,
 * generation, the tokenizer from tokenizer.json text, config.json → GPTConfig, safetensors decoding
 * from bytes, and the checkpoint as a lossless compressor (`compress` / `decompress`). Nothing in its
 * import graph touches Node (no `node:` modules, fs, pg or tfjs-node); a test bundles it for the browser
 * to keep it so. The caller picks the tfjs backend (webgl, wasm, cpu).
 */
export { modelFromCheckpointFiles } from "./checkpoint/model-files";
export {
  decodeSafetensors,
  type LoadedTensor,
  type SafetensorsContents,
  type SafetensorsDtype,
} from "./checkpoint/safetensors-bytes";
export * from "./compress";
export {
  type Completion,
  type CompletionSettings,
  complete,
  completionText,
  encodePrompt,
  type PromptFormat,
} from "./inference/complete";
export * from "./model";
export { Tokenizer, type TokenizerRoles } from "./tokenizer/bpe";
export {
  rolesFromTokenizerConfig,
  type TokenizerJsonOptions,
  tokenizerFromJson,
  tokenizerFromJsonText,
} from "./tokenizer/hfJson";
