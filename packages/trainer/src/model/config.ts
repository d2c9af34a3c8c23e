/**
 * GPT-2 hyper-parameters, presets, and conversion to/from a Hugging Face GPT-2 `config.json`.
 *
 * There is no dropout: RLHF needs it off (PPO compares log-probabilities of the same tokens under two
 * forward passes; dropout would make the ratio noisy), and the small models trained here do not need
 * it. Exported configs say so with resid/embd/attn_pdrop = 0.
 */

export interface GPTConfig {
  /** Tokens in the vocabulary (rows of `wte`); normally taken from the tokenizer. */
  vocabSize: number;
  /** Longest sequence the model can see (rows of `wpe`); GPT-2's `n_positions` / `n_ctx`. */
  nPositions: number;
  /** Width of the residual stream, d. */
  nEmbd: number;
  /** Transformer blocks. */
  nLayer: number;
  /** Attention heads; nEmbd must be divisible by it. */
  nHead: number;
  /** Epsilon inside every layer norm (GPT-2: 1e-5). */
  layerNormEpsilon: number;
  /** Std of the normal initialisation (GPT-2: 0.02); residual projections use it / sqrt(2 nLayer). */
  initializerRange: number;
}

const GPT2_DEFAULTS = { layerNormEpsilon: 1e-5, initializerRange: 0.02 } as const;

/** tiny: for tests and laptops; small: the demo's default; gpt2: the 124M-parameter GPT-2. */
export const GPT_PRESETS = {
  tiny: { vocabSize: 512, nPositions: 128, nEmbd: 128, nLayer: 4, nHead: 4, ...GPT2_DEFAULTS },
  small: { vocabSize: 512, nPositions: 256, nEmbd: 256, nLayer: 6, nHead: 8, ...GPT2_DEFAULTS },
  gpt2: { vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, ...GPT2_DEFAULTS },
} as const satisfies Record<string, GPTConfig>;

export type GPTPresetName = keyof typeof GPT_PRESETS;

/** A preset with some fields replaced, validated. */
export function gptConfig(preset: GPTPresetName, overrides: Partial<GPTConfig> = {}): GPTConfig {
  const config = { ...GPT_PRESETS[preset], ...overrides };
  validateConfig(config);
  return config;
}

/** Throws an error naming the field if the config cannot describe a GPT. */
export function validateConfig(config: GPTConfig): void {
  const positiveInts: (keyof GPTConfig)[] = ["vocabSize", "nPositions", "nEmbd", "nLayer", "nHead"];
  for (const key of positiveInts) {
    const value = config[key];
    if (!Number.isInteger(value) || value <= 0) {
      throw new Error(`GPTConfig.${key} must be a positive integer, got ${value}`);
    }
  }
  if (config.nEmbd % config.nHead !== 0) {
    throw new Error(`GPTConfig.nEmbd (${config.nEmbd}) must be divisible by nHead (${config.nHead})`);
  }
  if (!(config.layerNormEpsilon > 0)) {
    throw new Error(`GPTConfig.layerNormEpsilon must be > 0, got ${config.layerNormEpsilon}`);
  }
  if (!(config.initializerRange > 0)) {
    throw new Error(`GPTConfig.initializerRange must be > 0, got ${config.initializerRange}`);
  }
}

/** The fields of a Hugging Face GPT-2 `config.json` that this model reads or writes. */
export interface HFGPT2Config {
  model_type: "gpt2";
  architectures: string[];
  vocab_size: number;
  n_positions: number;
  n_ctx: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_inner: number | null;
  activation_function: string;
  layer_norm_epsilon: number;
  initializer_range: number;
  resid_pdrop: number;
  embd_pdrop: number;
  attn_pdrop: number;
  bos_token_id: number | null;
  eos_token_id: number | null;
  pad_token_id: number | null;
  tie_word_embeddings: boolean;
  scale_attn_weights: boolean;
  use_cache: boolean;
  torch_dtype: "float32";
  num_labels?: number;
  [key: string]: unknown;
}

export interface SpecialTokenIds {
  bosTokenId?: number;
  eosTokenId?: number;
  padTokenId?: number;
}

/**
 * `config.json` for Hugging Face transformers. `architecture` picks the class it loads as:
 * GPT2LMHeadModel (policy, SFT, pretraining) or GPT2ForSequenceClassification (reward model, one label).
 */
export function toHfConfig(
  config: GPTConfig,
  tokens: SpecialTokenIds = {},
  architecture: "GPT2LMHeadModel" | "GPT2ForSequenceClassification" = "GPT2LMHeadModel",
): HFGPT2Config {
  validateConfig(config);
  const hf: HFGPT2Config = {
    model_type: "gpt2",
    architectures: [architecture],
    vocab_size: config.vocabSize,
    n_positions: config.nPositions,
    n_ctx: config.nPositions,
    n_embd: config.nEmbd,
    n_layer: config.nLayer,
    n_head: config.nHead,
    n_inner: null,
    activation_function: "gelu_new",
    layer_norm_epsilon: config.layerNormEpsilon,
    initializer_range: config.initializerRange,
    resid_pdrop: 0,
    embd_pdrop: 0,
    attn_pdrop: 0,
    bos_token_id: tokens.bosTokenId ?? null,
    eos_token_id: tokens.eosTokenId ?? null,
    pad_token_id: tokens.padTokenId ?? null,
    tie_word_embeddings: true,
    scale_attn_weights: true,
    use_cache: true,
    torch_dtype: "float32",
  };
  if (architecture === "GPT2ForSequenceClassification") hf.num_labels = 1;
  return hf;
}

/**
 * Read a Hugging Face GPT-2 `config.json` (parsed). Throws, naming the field, for variants this model
 * does not implement (another activation, an untied LM head, a non-default MLP width, ...).
 */
export function fromHfConfig(json: unknown): { config: GPTConfig } & SpecialTokenIds {
  if (typeof json !== "object" || json === null) throw new Error("config.json: expected a JSON object");
  const hf = json as Record<string, unknown>;
  const where = (field: string) => `config.json: "${field}"`;
  if (hf.model_type !== "gpt2") {
    throw new Error(`${where("model_type")} must be "gpt2", got ${JSON.stringify(hf.model_type)}`);
  }
  const int = (field: string, fallback?: number): number => {
    const value = hf[field] ?? fallback;
    if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
      throw new Error(`${where(field)} must be a positive integer, got ${JSON.stringify(hf[field])}`);
    }
    return value;
  };
  const num = (field: string, fallback: number): number => {
    const value = hf[field] ?? fallback;
    if (typeof value !== "number")
      throw new Error(`${where(field)} must be a number, got ${JSON.stringify(value)}`);
    return value;
  };
  const activation = hf.activation_function ?? "gelu_new";
  if (activation !== "gelu_new" && activation !== "gelu_pytorch_tanh") {
    throw new Error(
      `${where("activation_function")}: only "gelu_new" is implemented, got ${JSON.stringify(activation)}`,
    );
  }
  const nEmbd = int("n_embd", 768);
  if (hf.n_inner != null && hf.n_inner !== 4 * nEmbd) {
    throw new Error(
      `${where("n_inner")}: only 4 * n_embd (${4 * nEmbd}) is implemented, got ${JSON.stringify(hf.n_inner)}`,
    );
  }
  if (hf.tie_word_embeddings === false) {
    throw new Error(
      `${where("tie_word_embeddings")}: the LM head is tied to wte here; false is not supported`,
    );
  }
  for (const field of ["scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"]) {
    if (hf[field] === true) throw new Error(`${where(field)}: true is not supported`);
  }
  if (hf.scale_attn_weights === false)
    throw new Error(`${where("scale_attn_weights")}: false is not supported`);
  if (hf.num_labels != null && hf.num_labels !== 1) {
    throw new Error(
      `${where("num_labels")}: a reward model here has one score, got ${JSON.stringify(hf.num_labels)}`,
    );
  }
  const config: GPTConfig = {
    vocabSize: int("vocab_size", 50257),
    nPositions: int("n_positions", typeof hf.n_ctx === "number" ? hf.n_ctx : 1024),
    nEmbd,
    nLayer: int("n_layer", 12),
    nHead: int("n_head", 12),
    layerNormEpsilon: num("layer_norm_epsilon", 1e-5),
    initializerRange: num("initializer_range", 0.02),
  };
  validateConfig(config);
  const tokenId = (field: string): number | undefined => {
    const value = hf[field];
    return typeof value === "number" && Number.isInteger(value) ? value : undefined;
  };
  const result: { config: GPTConfig } & SpecialTokenIds = { config };
  const bos = tokenId("bos_token_id");
  const eos = tokenId("eos_token_id");
  const pad = tokenId("pad_token_id");
  if (bos !== undefined) result.bosTokenId = bos;
  if (eos !== undefined) result.eosTokenId = eos;
  if (pad !== undefined) result.padTokenId = pad;
  return result;
}
