/**
 * One prompt in, one completion out, with the settings a person picks in the dashboard's playground. The
 * browser (the model on the user's device) and the dashboard server both call this, so a difference
 * between their outputs can only come from the arithmetic of the tfjs backend, never from how the prompt
 * was encoded or the options were passed.
 */
import { generate } from "../model/generate";
import type { GPT } from "../model/gpt";
import type { Tokenizer } from "../tokenizer/bpe";

/**
 * How the prompt text becomes ids. "chat": `<|user|>prompt<|assistant|>`, as SFT trains and the
 * generate job and PPO prompt; "plain": the text alone, as pretraining samples (an empty text starts
 * from `<|endoftext|>`, GPT-2's document separator).
 */
export type PromptFormat = "plain" | "chat";

export interface CompletionSettings {
  prompt: string;
  format: PromptFormat;
  /** 0 = greedy. */
  temperature: number;
  /** 0 = no limit. */
  topK: number;
  /** 1 = no limit. */
  topP: number;
  maxNewTokens: number;
  seed: number;
}

export interface Completion {
  promptIds: number[];
  /** New tokens; ends with the eos token when the model stopped by itself. */
  tokens: number[];
  /** The new tokens as text, special tokens left out. */
  text: string;
  /** Why generation ended. */
  finish: "eos" | "length" | "stopped";
}

/** Prompt text → the ids generation starts from. Special-token strings in the text stay plain text. */
export function encodePrompt(tokenizer: Tokenizer, prompt: string, format: PromptFormat): number[] {
  if (format === "chat") return tokenizer.formatChat(prompt).ids;
  const ids = tokenizer.encode(prompt, { allowSpecial: false });
  return ids.length > 0 ? ids : [tokenizer.bosId ?? tokenizer.eosId];
}

/** The new tokens as a person reads them: specials dropped; NUL (it breaks Postgres text) shown as U+FFFD. */
export function completionText(tokenizer: Tokenizer, tokens: readonly number[]): string {
  return tokenizer.decode(tokens, { skipSpecial: true }).replaceAll("\u0000", "\uFFFD");
}

/**
 * Generates one completion. `maxNewTokens` is cut to what the context leaves after the prompt; a prompt
 * that fills the context is an error saying how long it is. `onToken` sees each token as it is chosen.
 */
export async function complete(
  model: GPT,
  tokenizer: Tokenizer,
  settings: CompletionSettings,
  { onToken, signal }: { onToken?: (token: number) => void; signal?: AbortSignal } = {},
): Promise<Completion> {
  const promptIds = encodePrompt(tokenizer, settings.prompt, settings.format);
  const room = model.config.nPositions - promptIds.length;
  if (room < 1) {
    throw new Error(
      `the prompt is ${promptIds.length} tokens; the model's context is ${model.config.nPositions}, so no room is left to generate`,
    );
  }
  const { tokens } = await generate(model, [promptIds], {
    maxNewTokens: Math.min(settings.maxNewTokens, room),
    temperature: settings.temperature,
    topK: settings.topK,
    topP: settings.topP,
    seed: settings.seed,
    eosTokenId: tokenizer.eosId,
    padTokenId: tokenizer.padId,
    onToken: onToken && ((_row, token) => void onToken(token)),
    signal,
  });
  const generated = tokens[0] ?? [];
  const finish = generated.at(-1) === tokenizer.eosId ? "eos" : signal?.aborted ? "stopped" : "length";
  return { promptIds, tokens: generated, text: completionText(tokenizer, generated), finish };
}
