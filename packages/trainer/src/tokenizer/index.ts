/** Byte-level BPE tokenizer (GPT-2 style): training, encoding, chat format and Hugging Face files. */
export {
  type AddedToken,
  ASSISTANT,
  applyMerges,
  type ChatEncoding,
  DEFAULT_SPECIAL_TOKENS,
  END_OF_TEXT,
  PAD,
  Tokenizer,
  type TokenizerRoles,
  type TokenizerSpec,
  USER,
} from "./bpe";
export {
  BYTE_TO_UNICODE,
  bytesToSymbols,
  GPT2_PRETOKENIZE_PATTERN,
  preTokenize,
  symbolsToBytes,
  UNICODE_TO_BYTE,
  utf8Bytes,
} from "./byteLevel";
export {
  type HfAddedToken,
  type HfBpeModel,
  type HfByteLevel,
  type HfTokenizerJson,
  rolesFromTokenizerConfig,
  type SpecialTokensMap,
  serializeTokenizerJson,
  type TokenizerJsonOptions,
  type TransformersTokenizerConfig,
  tokenizerFromJson,
  tokenizerFromJsonText,
  toTokenizerJson,
  transformersTokenizerFiles,
} from "./hfJson";
export { loadTokenizerJson, saveTokenizerJson } from "./hfJsonFiles";
export { type TrainBpeOptions, type TrainBpeProgress, trainBpe } from "./train";
