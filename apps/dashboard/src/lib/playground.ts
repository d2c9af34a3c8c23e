/**
 * The playground's generation settings: one schema for the page's form and the server's procedure, so
 * both sides generate from the same values. Bounds keep a request to a size a shared server can afford.
 */
import { z } from "zod";

export const PLAYGROUND_LIMITS = { promptChars: 4000, maxNewTokens: 512 } as const;

export const completionSettingsSchema = z.object({
  prompt: z.string().max(PLAYGROUND_LIMITS.promptChars),
  /** "chat": <|user|>prompt<|assistant|>, as SFT, PPO and DPO see prompts; "plain": the text alone. */
  format: z.enum(["chat", "plain"]),
  /** 0 = greedy: the most likely token every time (the same on every backend). */
  temperature: z.number().min(0).max(5),
  /** Sample among the k most likely tokens; 0 = all. */
  topK: z.number().int().min(0),
  /** Sample from the smallest set of tokens whose probability reaches p; 1 = all. */
  topP: z.number().gt(0).max(1),
  maxNewTokens: z.number().int().min(1).max(PLAYGROUND_LIMITS.maxNewTokens),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1),
});

export type CompletionSettingsInput = z.infer<typeof completionSettingsSchema>;

export const DEFAULT_SETTINGS: CompletionSettingsInput = {
  prompt: "",
  format: "chat",
  temperature: 0,
  topK: 0,
  topP: 1,
  maxNewTokens: 64,
  seed: 0,
};

/** tfjs backends a browser may have, best first; the page takes the first that starts unless one is asked for. */
export const BROWSER_BACKENDS = ["webgl", "wasm", "cpu"] as const;
export type BrowserBackend = (typeof BROWSER_BACKENDS)[number];

/** Run kinds whose checkpoints are language models (a reward model scores text, it does not write it). */
export const POLICY_KINDS = ["pretrain", "sft", "ppo", "dpo", "grpo", "rloo"] as const;

/** Where two generations part: `null` when they are the same token for token, else the first index that differs. */
export function firstDifference(a: readonly number[], b: readonly number[]): number | null {
  const shorter = Math.min(a.length, b.length);
  for (let i = 0; i < shorter; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? null : shorter;
}

/** Tokens per second of `tokens` generated in `ms`; 0 before the first token. */
export function tokensPerSecond(tokens: number, ms: number): number {
  return tokens > 0 && ms > 0 ? (tokens * 1000) / ms : 0;
}
