/**
 * The text of one choice as its tokens arrive: decoded, cut at the first stop string, and handed out in
 * pieces that never change afterwards — text that could still become the start of a stop string, or bytes
 * of a character not yet complete, are held back until the next token decides. The streaming and the
 * non-streaming responses both read their text from here, so they agree for the same seed.
 */
import type { Tokenizer } from "../tokenizer";
import type { FinishReason } from "./protocol";

export class ChoiceText {
  readonly tokens: number[] = [];
  finishReason: FinishReason | null = null;
  private text = "";
  private sent = 0;

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly stop: readonly string[],
  ) {}

  /** Add a generated token; true when the choice is now finished (end of text, or a stop string). */
  push(token: number): boolean {
    this.tokens.push(token);
    const text = this.tokenizer.decode(this.tokens, { skipSpecial: true });
    const cut = firstStop(text, this.stop);
    if (cut >= 0) {
      this.text = text.slice(0, cut);
      this.finishReason = "stop";
    } else {
      this.text = text;
      if (token === this.tokenizer.eosId) this.finishReason = "stop";
    }
    return this.finishReason !== null;
  }

  /** Mark the choice finished with `reason` unless it already is (generation ran out of tokens). */
  finish(reason: FinishReason): void {
    this.finishReason ??= reason;
  }

  /** The text not handed out yet that is final now (all of it once the choice is finished). */
  take(): string {
    let end = this.text.length;
    if (this.finishReason === null) {
      end -= stopPrefixSuffix(this.text, this.stop);
      // An incomplete UTF-8 sequence at the end decodes as U+FFFD until its last byte arrives.
      while (end > this.sent && this.text[end - 1] === "\uFFFD") end -= 1;
    }
    if (end <= this.sent) return "";
    const piece = this.text.slice(this.sent, end);
    this.sent = end;
    return piece;
  }

  /** The whole text so far (up to the stop string, which is not part of it). */
  get fullText(): string {
    return this.text;
  }
}

/** Index of the earliest occurrence of any stop string in `text`, or -1. */
export function firstStop(text: string, stop: readonly string[]): number {
  let first = -1;
  for (const s of stop) {
    const at = text.indexOf(s);
    if (at >= 0 && (first < 0 || at < first)) first = at;
  }
  return first;
}

/** Length of the longest end of `text` that is a proper beginning of some stop string (0 if none). */
export function stopPrefixSuffix(text: string, stop: readonly string[]): number {
  let longest = 0;
  for (const s of stop) {
    for (let length = Math.min(s.length - 1, text.length); length > longest; length--) {
      if (text.endsWith(s.slice(0, length))) {
        longest = length;
        break;
      }
    }
  }
  return longest;
}
