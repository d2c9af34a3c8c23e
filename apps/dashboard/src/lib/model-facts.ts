/**
 * Model facts shown with a run: parameters, tokens seen, tokens per parameter and bits per byte — the
 * figures behind the product's table of LLMs (GPT-3: 175B parameters on 300B tokens; Chinchilla: 70B on
 * 1.4T, about 20 tokens per parameter, the compute-optimal ratio of Hoffmann et al. 2022).
 */

/** The architecture fields of a Hugging Face GPT-2 `config.json` (what a checkpoint directory holds). */
export interface Gpt2Dims {
  vocab_size: number;
  n_positions: number;
  n_embd: number;
  n_layer: number;
}

/**
 * Parameters of a GPT-2 with a tied LM head: token and position embeddings, per block two LayerNorms
 * (2d each), attention c_attn (d×3d + 3d) and c_proj (d×d + d), MLP c_fc (d×4d + 4d) and c_proj (4d×d + d)
 * — 12d² + 13d per block — and the final LayerNorm. GPT-2 small: 124,439,808.
 */
export function gpt2ParameterCount(dims: Gpt2Dims): number {
  const d = dims.n_embd;
  return dims.vocab_size * d + dims.n_positions * d + dims.n_layer * (12 * d * d + 13 * d) + 2 * d;
}

/** Reference points for tokens per parameter. */
export const REFERENCE_MODELS = [
  { name: "GPT-3", parameters: 175e9, tokens: 300e9 },
  { name: "Chinchilla", parameters: 70e9, tokens: 1.4e12 },
] as const;

/** "1.2M", "175B", "1.4T". */
export function compactNumber(n: number): string {
  return new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: n < 1000 ? 2 : 1 }).format(
    n,
  );
}
