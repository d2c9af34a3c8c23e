/**
 * The model side of the server: a loaded policy, prompts encoded as the trainers encode them, and one
 * generation at a time in arrival order (tfjs runs on one thread; interleaving requests would only make
 * each slower). A request whose client went away is skipped if still waiting, and stopped between tokens
 * if running.
 */
import { randomInt } from "node:crypto";
import type { BackendInfo } from "../backend";
import type { GPT } from "../model";
import { generate } from "../model";
import type { Tokenizer } from "../tokenizer";
import { ChoiceText } from "./choice-text";
import { ApiError, type ChatMessage, type FinishReason } from "./protocol";

export interface ServedModel {
  /** The id clients pass as `model`. */
  name: string;
  model: GPT;
  tokenizer: Tokenizer;
  backend: BackendInfo;
  /** Unix seconds the model was saved (the `created` of /v1/models). */
  created: number;
}

export interface GenerationRequest {
  /** Token ids of each prompt. */
  prompts: number[][];
  /** Choices per prompt; choice `p * n + k` is the k-th for prompt p, as OpenAI numbers them. */
  n: number;
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  stop: readonly string[];
  signal: AbortSignal;
  /** Streaming: called with each new piece of a choice's text, in order. */
  onText?: (choice: number, text: string) => void;
}

export interface GeneratedChoice {
  index: number;
  text: string;
  finishReason: FinishReason;
  tokens: number;
}

export interface GenerationResult {
  choices: GeneratedChoice[];
  promptTokens: number;
  completionTokens: number;
  /** The client went away before the end. */
  aborted: boolean;
}

/** Counters for the log and for tests. */
export interface EngineStats {
  requests: number;
  aborted: number;
  generatedTokens: number;
}

export class ServeEngine {
  readonly stats: EngineStats = { requests: 0, aborted: 0, generatedTokens: 0 };
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly served: ServedModel) {}

  get contextLength(): number {
    return this.served.model.config.nPositions;
  }

  /** A completion prompt: plain text, special tokens allowed (a raw prompt may spell out the chat format). */
  encodePrompt(prompt: string): number[] {
    const ids = this.served.tokenizer.encode(prompt);
    // An empty prompt starts from end-of-text, as GPT-2 does for unconditional samples.
    return ids.length > 0 ? ids : [this.served.tokenizer.eosId];
  }

  /**
   * A conversation in the chat format the SFT/PPO trainers use: each user turn answered by an assistant
   * turn is one `formatChat(user, assistant)` exchange, and the last user turn opens the assistant's
   * reply. System and developer messages go in front of the next user message.
   */
  encodeChat(messages: readonly ChatMessage[]): number[] {
    const { tokenizer } = this.served;
    if (tokenizer.userId === undefined || tokenizer.assistantId === undefined) {
      throw new ApiError(
        400,
        `model '${this.served.name}' has no chat format (its tokenizer lacks the user and assistant tokens); use /v1/completions`,
        "messages",
        "chat_not_supported",
      );
    }
    const last = messages[messages.length - 1];
    if (last?.role !== "user") {
      throw new ApiError(
        400,
        `the last message must be from the user (got '${last?.role}'): the model answers a user turn`,
        `messages[${messages.length - 1}].role`,
        "invalid_value",
      );
    }
    const ids: number[] = [];
    let pending: string[] = [];
    for (const message of messages) {
      const text =
        typeof message.content === "string" ? message.content : message.content.map((p) => p.text).join("");
      if (message.role === "assistant") {
        ids.push(...tokenizer.formatChat(pending.join("\n\n"), text).ids);
        pending = [];
      } else {
        pending.push(text);
      }
    }
    ids.push(...tokenizer.formatChat(pending.join("\n\n")).ids);
    return ids;
  }

  /**
   * The completion budget of a request: `requested`, or what the context leaves; a 400 naming the
   * budget's field (`param`) or the prompt's (`promptParam`) when prompt + completion do not fit.
   */
  completionBudget(
    prompts: number[][],
    requested: number | undefined,
    param: string,
    promptParam: string,
  ): number {
    const longest = Math.max(...prompts.map((p) => p.length));
    const room = this.contextLength - longest;
    if (requested === undefined) {
      if (room >= 1) return room;
      throw new ApiError(
        400,
        `This model's maximum context length is ${this.contextLength} tokens, and the prompt has ${longest}: no room for a completion.`,
        promptParam,
        "context_length_exceeded",
      );
    }
    if (requested > room) {
      throw new ApiError(
        400,
        `This model's maximum context length is ${this.contextLength} tokens. However, you requested ${longest + requested} tokens (${longest} in the prompt, ${requested} for the completion). Please reduce the prompt or ${param}.`,
        param,
        "context_length_exceeded",
      );
    }
    return requested;
  }

  /** A seed for a request that gave none. */
  static randomSeed(): number {
    return randomInt(2 ** 31);
  }

  /** Queue a generation behind the ones already waiting; resolves with its choices. */
  run(request: GenerationRequest): Promise<GenerationResult> {
    const result = this.tail.then(() => this.generateNow(request));
    this.tail = result.catch(() => undefined);
    return result;
  }

  private async generateNow(request: GenerationRequest): Promise<GenerationResult> {
    const { model, tokenizer } = this.served;
    this.stats.requests += 1;
    const rows = request.prompts.flatMap((ids) => Array.from({ length: request.n }, () => ids));
    const texts = rows.map(() => new ChoiceText(tokenizer, request.stop));
    const promptTokens = request.prompts.reduce((sum, ids) => sum + ids.length, 0);
    if (!request.signal.aborted) {
      await generate(model, rows, {
        maxNewTokens: request.maxTokens,
        temperature: request.temperature,
        topP: request.topP,
        seed: request.seed,
        eosTokenId: tokenizer.eosId,
        padTokenId: tokenizer.padId,
        signal: request.signal,
        onToken: (row, token) => {
          const choice = texts[row]!;
          const done = choice.push(token);
          const piece = choice.take();
          if (piece && request.onText) request.onText(row, piece);
          return done;
        },
      });
    }
    const aborted = request.signal.aborted;
    const choices = texts.map((choice, index) => {
      choice.finish("length");
      const piece = choice.take();
      if (piece && request.onText && !aborted) request.onText(index, piece);
      return {
        index,
        text: choice.fullText,
        finishReason: choice.finishReason as FinishReason,
        tokens: choice.tokens.length,
      };
    });
    const completionTokens = choices.reduce((sum, c) => sum + c.tokens, 0);
    this.stats.generatedTokens += completionTokens;
    if (aborted) this.stats.aborted += 1;
    return { choices, promptTokens, completionTokens, aborted };
  }
}
