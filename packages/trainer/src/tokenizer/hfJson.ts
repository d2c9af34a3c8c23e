/**
 * Hugging Face file formats for a byte-level BPE tokenizer: `tokenizer.json` (the `tokenizers` library's
 * serialization, version "1.0") and the small `tokenizer_config.json` / `special_tokens_map.json` objects
 * that transformers' AutoTokenizer reads next to it. Objects and text only, no file access, so it runs in a
 * browser too; reading and writing the files is `./hfJsonFiles`.
 */

import { type AddedToken, Tokenizer, type TokenizerRoles } from "./bpe";
import { FieldError, pipelineFromJson } from "./pipeline";

export interface HfAddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

export interface HfByteLevel {
  type: "ByteLevel";
  add_prefix_space: boolean;
  trim_offsets: boolean;
  use_regex: boolean;
}

export interface HfBpeModel {
  type: "BPE";
  dropout: null;
  unk_token: null;
  continuing_subword_prefix: null;
  end_of_word_suffix: null;
  fuse_unk: boolean;
  byte_fallback: boolean;
  ignore_merges: boolean;
  vocab: Record<string, number>;
  /** "left right" strings: readable by every tokenizers version (pairs only since 0.20). */
  merges: string[];
}

/** tokenizer.json as written here; key order follows what the tokenizers library writes. */
export interface HfTokenizerJson {
  version: "1.0";
  truncation: null;
  padding: null;
  added_tokens: HfAddedToken[];
  /** null for GPT-2; a loaded tokenizer keeps its own (e.g. {"type": "NFC"}). */
  normalizer: unknown;
  /** GPT-2's ByteLevel, or the loaded one (e.g. Llama 3's Sequence of Split and ByteLevel). */
  pre_tokenizer: HfByteLevel | Record<string, unknown>;
  post_processor: unknown;
  decoder: unknown;
  model: HfBpeModel;
}

/** The tokenizer as a tokenizer.json object. */
export function toTokenizerJson(tokenizer: Tokenizer): HfTokenizerJson {
  // Null prototype: a learned token spelled "__proto__" must become a key, not replace the prototype.
  const vocab: Record<string, number> = Object.create(null);
  for (const [token, id] of [...tokenizer.vocabEntries()].sort((a, b) => a[1] - b[1])) vocab[token] = id;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: tokenizer.addedTokens.map((t) => ({
      id: t.id,
      content: t.content,
      single_word: t.singleWord,
      lstrip: t.lstrip,
      rstrip: t.rstrip,
      normalized: t.normalized,
      special: t.special,
    })),
    normalizer: structuredClone(tokenizer.pipeline.json.normalizer),
    pre_tokenizer: structuredClone(tokenizer.pipeline.json.pre_tokenizer) as HfTokenizerJson["pre_tokenizer"],
    post_processor: structuredClone(tokenizer.pipeline.json.post_processor),
    decoder: structuredClone(tokenizer.pipeline.json.decoder),
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: tokenizer.pipeline.ignoreMerges,
      vocab,
      merges: tokenizer.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

export interface TokenizerJsonOptions {
  /** Named in error messages, e.g. the file path. Default "tokenizer.json". */
  source?: string;
  /** Which tokens are eos/pad/bos; by default found by name (`<|endoftext|>`, `<|pad|>`, ...). */
  roles?: TokenizerRoles;
}

/**
 * A Tokenizer from a parsed tokenizer.json: a byte-level BPE model with the normalizer, pre-tokenizer,
 * decoder and post-processor shapes of `./pipeline` (GPT-2's, GPT-NeoX's, Llama 3's, Qwen2's, SmolLM2's,
 * DeepSeek's, ...; Split patterns translated from Oniguruma by `./oniguruma`). Anything else is refused with
 * the offending field named, since encoding it another way would silently give different ids than the
 * model was trained on. `encode` adds no post-processor tokens (like `add_special_tokens=False`); the
 * post-processor's leading token becomes `bosId` when no bos is named.
 */
export function tokenizerFromJson(json: unknown, options: TokenizerJsonOptions = {}): Tokenizer {
  const source = options.source ?? "tokenizer.json";
  const fail = (field: string, got: unknown, expected: string): never => {
    throw new Error(`${source}: ${field} is ${describe(got)}; expected ${expected}`);
  };
  if (!isObject(json)) return fail("the top level", json, "a JSON object");
  if (json.version !== "1.0") fail("version", json.version, '"1.0"');

  const model = json.model;
  if (!isObject(model)) return fail("model", model, "an object");
  if (model.type !== "BPE") fail("model.type", model.type, '"BPE" (a byte-level BPE like GPT-2\'s)');
  if (model.dropout != null && model.dropout !== 0)
    fail("model.dropout", model.dropout, "null (no BPE dropout)");
  for (const field of ["continuing_subword_prefix", "end_of_word_suffix"] as const) {
    if (model[field] != null && model[field] !== "") fail(`model.${field}`, model[field], 'null or ""');
  }
  if (model.byte_fallback === true) {
    fail(
      "model.byte_fallback",
      true,
      "false: byte fallback belongs to SentencePiece-style BPE (Llama 2, Mistral), which is not byte-level BPE and would get different ids here",
    );
  }
  if (model.ignore_merges !== undefined && typeof model.ignore_merges !== "boolean")
    fail("model.ignore_merges", model.ignore_merges, "true or false");

  let pipeline: ReturnType<typeof pipelineFromJson>;
  try {
    pipeline = pipelineFromJson(json, model.ignore_merges === true);
  } catch (error) {
    if (error instanceof FieldError) throw new Error(`${source}: ${error.message}`, { cause: error });
    throw error;
  }

  if (!isObject(model.vocab)) return fail("model.vocab", model.vocab, "an object of token → id");
  const vocab: [string, number][] = [];
  for (const [token, id] of Object.entries(model.vocab)) {
    if (!Number.isInteger(id) || (id as number) < 0)
      fail(`model.vocab[${JSON.stringify(token)}]`, id, "an id ≥ 0");
    vocab.push([token, id as number]);
  }

  if (!Array.isArray(model.merges)) return fail("model.merges", model.merges, "an array");
  const merges = model.merges.map((merge: unknown, i): [string, string] => {
    // Older tokenizers versions write "left right"; 0.20+ writes ["left", "right"].
    if (typeof merge === "string") {
      const parts = merge.split(" ");
      if (parts.length === 2 && parts[0] && parts[1]) return [parts[0], parts[1]];
    } else if (Array.isArray(merge) && merge.length === 2 && merge.every((s) => typeof s === "string" && s)) {
      return [merge[0] as string, merge[1] as string];
    }
    return fail(`model.merges[${i}]`, merge, '"left right" or ["left", "right"]');
  });

  const rawAdded = json.added_tokens ?? [];
  if (!Array.isArray(rawAdded)) return fail("added_tokens", rawAdded, "an array");
  const addedTokens = rawAdded.map((t: unknown, i): AddedToken => {
    if (!isObject(t) || !Number.isInteger(t.id) || typeof t.content !== "string" || t.content === "") {
      return fail(`added_tokens[${i}]`, t, "{id: integer, content: non-empty string, ...}");
    }
    if (t.single_word === true) fail(`added_tokens[${i}].single_word`, true, "false (not supported)");
    return {
      id: t.id as number,
      content: t.content,
      special: t.special === true,
      singleWord: false,
      lstrip: t.lstrip === true,
      rstrip: t.rstrip === true,
      normalized: t.normalized === true,
    };
  });

  let roles = options.roles;
  const padding = json.padding;
  if (roles?.pad === undefined && isObject(padding) && typeof padding.pad_token === "string") {
    roles = { ...roles, pad: padding.pad_token };
  }
  try {
    return new Tokenizer({ vocab, merges, addedTokens, roles, pipeline });
  } catch (error) {
    throw new Error(`${source}: ${(error as Error).message}`, { cause: error });
  }
}

/** A Tokenizer from tokenizer.json text (as read from a file or downloaded); errors name `options.source`. */
export function tokenizerFromJsonText(text: string, options: TokenizerJsonOptions = {}): Tokenizer {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${options.source ?? "tokenizer.json"}: not valid JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  return tokenizerFromJson(json, options);
}

/** tokenizer.json text; `JSON.parse` + `tokenizerFromJson` reads it back. */
export function serializeTokenizerJson(tokenizer: Tokenizer): string {
  return `${JSON.stringify(toTokenizerJson(tokenizer), null, 2)}\n`;
}

/**
 * The eos/pad/bos roles a transformers `tokenizer_config.json` (parsed) names; empty for anything else.
 * That file is where transformers keeps them, beside tokenizer.json.
 */
export function rolesFromTokenizerConfig(config: unknown): TokenizerRoles {
  const roles: TokenizerRoles = {};
  if (!isObject(config)) return roles;
  const eos = tokenContent(config.eos_token);
  const pad = tokenContent(config.pad_token);
  const bos = tokenContent(config.bos_token);
  if (eos !== undefined) roles.eos = eos;
  if (pad !== undefined) roles.pad = pad;
  // bos_token = eos_token is GPT-2's placeholder (GPT-2 never prepends it), so it leaves bosId unset.
  if (bos !== undefined && bos !== eos) roles.bos = bos;
  return roles;
}

export interface TransformersTokenizerConfig {
  tokenizer_class: "GPT2Tokenizer";
  model_max_length: number;
  bos_token: string;
  eos_token: string;
  unk_token: string;
  pad_token: string;
  add_bos_token: false;
  add_prefix_space: false;
  /** Off so that decode(encode(s)) === s in transformers too (on, it rewrites " ." to "."). */
  clean_up_tokenization_spaces: false;
  errors: "replace";
  added_tokens_decoder: Record<string, Omit<HfAddedToken, "id">>;
  additional_special_tokens?: string[];
  chat_template?: string;
}

export interface SpecialTokensMap {
  bos_token: string;
  eos_token: string;
  unk_token: string;
  pad_token: string;
  additional_special_tokens?: string[];
}

/**
 * The objects for tokenizer_config.json and special_tokens_map.json. GPT-2 has no bos or unk token and
 * transformers' GPT2Tokenizer uses `<|endoftext|>` for both; we do the same. The chat template renders
 * exactly what `Tokenizer.formatChat` produces, so `apply_chat_template` matches SFT's format.
 */
export function transformersTokenizerFiles(
  tokenizer: Tokenizer,
  { modelMaxLength }: { modelMaxLength: number },
): { tokenizerConfig: TransformersTokenizerConfig; specialTokensMap: SpecialTokensMap } {
  const name = (id: number | undefined) => (id === undefined ? undefined : tokenizer.idToToken(id));
  const eos = name(tokenizer.eosId)!;
  const pad = name(tokenizer.padId)!;
  const bos = name(tokenizer.bosId) ?? eos;
  const user = name(tokenizer.userId);
  const assistant = name(tokenizer.assistantId);
  const additional = [user, assistant].filter((t): t is string => t !== undefined);

  const specialTokensMap: SpecialTokensMap = {
    bos_token: bos,
    eos_token: eos,
    unk_token: eos,
    pad_token: pad,
  };
  if (additional.length > 0) specialTokensMap.additional_special_tokens = additional;

  const addedTokensDecoder: Record<string, Omit<HfAddedToken, "id">> = {};
  for (const t of tokenizer.addedTokens) {
    addedTokensDecoder[String(t.id)] = {
      content: t.content,
      lstrip: t.lstrip,
      normalized: t.normalized,
      rstrip: t.rstrip,
      single_word: t.singleWord,
      special: t.special,
    };
  }
  const tokenizerConfig: TransformersTokenizerConfig = {
    tokenizer_class: "GPT2Tokenizer",
    model_max_length: modelMaxLength,
    bos_token: bos,
    eos_token: eos,
    unk_token: eos,
    pad_token: pad,
    add_bos_token: false,
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
    errors: "replace",
    added_tokens_decoder: addedTokensDecoder,
  };
  if (additional.length > 0) tokenizerConfig.additional_special_tokens = additional;
  if (user !== undefined && assistant !== undefined) {
    tokenizerConfig.chat_template =
      "{% for message in messages %}" +
      `{% if message['role'] == 'user' %}${user}{{ message['content'] }}` +
      `{% elif message['role'] == 'assistant' %}${assistant}{{ message['content'] }}${eos}{% endif %}` +
      `{% endfor %}{% if add_generation_prompt %}${assistant}{% endif %}`;
  }
  return { tokenizerConfig, specialTokensMap };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return "missing";
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** transformers writes special tokens either as strings or as AddedToken objects with `content`. */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (isObject(value) && typeof value.content === "string") return value.content;
  return undefined;
}
