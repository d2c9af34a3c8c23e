/**
 * Byte-level BPE (Sennrich et al. 2016, as used by GPT-2): applying merges, and the `Tokenizer` that wraps
 * merges, special tokens and the chat format. Learning merges from a corpus is ./train (`trainBpe`).
 *
 * Id layout of a tokenizer trained here, stable for a given corpus and options:
 *   0 .. S-1              the special tokens, in the order given (default `DEFAULT_SPECIAL_TOKENS`)
 *   S .. S+255            the 256 byte symbols, in byte order (id = S + byte)
 *   S+256 ..              one token per merge, in merge order (rank)
 * Specials first keeps `<|endoftext|>` = 0 and `<|pad|>` = 1 whatever the vocab size. Tokenizers loaded from
 * a tokenizer.json (e.g. GPT-2's, where the bytes come first and `<|endoftext|>` = 50256) keep their ids.
 */

import { BYTE_TO_UNICODE, bytesToSymbols, symbolsToBytes, utf8Bytes } from "./byteLevel";
import { GPT2_PIPELINE, type TokenizerPipeline } from "./pipeline";

/** Separates documents in pretraining and ends every assistant turn, so generation stops on it. */
export const END_OF_TEXT = "<|endoftext|>";
/** Fills batches to a common length; distinct from END_OF_TEXT so a model never learns "pad ends text". */
export const PAD = "<|pad|>";
/** Opens the user turn of the chat format. */
export const USER = "<|user|>";
/** Opens the assistant turn of the chat format. */
export const ASSISTANT = "<|assistant|>";
/**
 * No separate `<|end|>`: the chat format has one user and one assistant turn, and the assistant turn ends with
 * END_OF_TEXT, which is already where sampling stops.
 */
export const DEFAULT_SPECIAL_TOKENS: readonly string[] = [END_OF_TEXT, PAD, USER, ASSISTANT];

/** Candidate contents for each role when a tokenizer does not name them (foreign tokenizer.json files). */
const EOS_CANDIDATES = [END_OF_TEXT, "</s>", "<eos>", "<|end_of_text|>", "<｜end▁of▁sentence｜>"];
const PAD_CANDIDATES = [PAD, "<pad>"];

/** A token matched in raw text before pre-tokenization; field meanings follow the `tokenizers` library. */
export interface AddedToken {
  id: number;
  content: string;
  /** Special tokens can be skipped when decoding and are only matched when `allowSpecial` is set. */
  special: boolean;
  /** Only match as a whole word. Not supported (rejected when loading). */
  singleWord: boolean;
  /** Absorb whitespace on the left of the token. */
  lstrip: boolean;
  /** Absorb whitespace on the right of the token. */
  rstrip: boolean;
  /** Matched in the normalized text rather than the raw text (matters only with a normalizer). */
  normalized: boolean;
}

/** A special token as the workbench adds them: matched whole, no whitespace absorbed. */
export function specialToken(id: number, content: string): AddedToken {
  return { id, content, special: true, singleWord: false, lstrip: false, rstrip: false, normalized: false };
}

/** Which token plays which part; contents, resolved against the vocabulary. */
export interface TokenizerRoles {
  eos?: string;
  pad?: string;
  bos?: string;
}

export interface TokenizerSpec {
  /** BPE model vocabulary: byte-level token string (e.g. "Ġthe") → id. */
  vocab: Iterable<readonly [string, number]>;
  /** Merges in priority order: index = rank, lower merges first. */
  merges: readonly (readonly [string, string])[];
  /** Tokens matched in raw text; may share ids with `vocab` entries (GPT-2's `<|endoftext|>` does). */
  addedTokens: readonly AddedToken[];
  roles?: TokenizerRoles;
  /**
   * Normalizer, pre-tokenizer, decoder and post-processor (`./pipeline`); GPT-2's by default, which is what
   * `trainBpe` makes. A loaded tokenizer.json keeps its own, so saving it writes them back.
   */
  pipeline?: TokenizerPipeline;
}

/** `formatChat` output: ids[responseStart..] is the assistant's reply (plus END_OF_TEXT), the SFT loss span. */
export interface ChatEncoding {
  ids: number[];
  text: string;
  responseStart: number;
}

// Pair keys pack two ids into one float64-exact number; Map<number> is several times faster than string keys.
export const ID_LIMIT = 1 << 22;
export const pairKey = (left: number, right: number) => left * ID_LIMIT + right;

/**
 * Applies merges to one pre-token's symbol ids: repeatedly merge the adjacent pair with the lowest rank,
 * leftmost first, until no adjacent pair has a merge. Same result as GPT-2's `bpe()`; a heap over
 * (rank, position) plus a linked list makes it O(n log n), which matters for long runs such as
 * thousands of Chinese characters with no space between them.
 * `rankOf(key)` gives the rank of a pair key, `mergeResult[rank]` the id it produces.
 */
export function applyMerges(
  symbols: readonly number[],
  rankOf: ReadonlyMap<number, number>,
  mergeResult: ArrayLike<number>,
): number[] {
  const n = symbols.length;
  if (n < 2) return symbols.slice();
  const sym = Int32Array.from(symbols);
  const prev = new Int32Array(n);
  const next = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  // Heap entries are rank * 2^31 + position, so popping the minimum gives the lowest rank, then leftmost.
  const heap: number[] = [];
  const push = (pos: number) => {
    const right = next[pos]!;
    if (right < 0) return;
    const rank = rankOf.get(pairKey(sym[pos]!, sym[right]!));
    if (rank !== undefined) heapPush(heap, rank * 2147483648 + pos);
  };
  for (let i = 0; i < n - 1; i++) push(i);
  while (heap.length > 0) {
    const entry = heapPop(heap);
    const rank = Math.floor(entry / 2147483648);
    const pos = entry - rank * 2147483648;
    const right = next[pos]!;
    // Stale entry: the pair at pos changed since it was pushed. Ranks are unique per pair, so an equal rank
    // means the same pair is still there.
    if (sym[pos]! < 0 || right < 0 || rankOf.get(pairKey(sym[pos]!, sym[right]!)) !== rank) continue;
    sym[pos] = mergeResult[rank]!;
    sym[right] = -1;
    const after = next[right]!;
    next[pos] = after;
    if (after >= 0) prev[after] = pos;
    if (prev[pos]! >= 0) push(prev[pos]!);
    push(pos);
  }
  const out: number[] = [];
  for (let i = 0; i >= 0; i = next[i]!) out.push(sym[i]!);
  return out;
}

function heapPush(heap: number[], value: number): void {
  let i = heap.length;
  heap.push(value);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]! <= value) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = value;
}

function heapPop(heap: number[]): number {
  const top = heap[0]!;
  const last = heap.pop()!;
  if (heap.length === 0) return top;
  let i = 0;
  const n = heap.length;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const c = r < n && heap[r]! < heap[l]! ? r : l;
    if (heap[c]! >= last) break;
    heap[i] = heap[c]!;
    i = c;
  }
  heap[i] = last;
  return top;
}

export function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}

/** Regex matching any of the tokens, longest first so "<|end|>" cannot shadow "<|endoftext|>". */
function addedTokenRegex(tokens: readonly AddedToken[]): { regex: RegExp; groupIds: number[] } | undefined {
  if (tokens.length === 0) return undefined;
  const sorted = [...tokens].sort((a, b) => b.content.length - a.content.length || a.id - b.id);
  const source = sorted
    .map((t) => `${t.lstrip ? "\\s*" : ""}(${escapeRegExp(t.content)})${t.rstrip ? "\\s*" : ""}`)
    .join("|");
  return { regex: new RegExp(source, "gu"), groupIds: sorted.map((t) => t.id) };
}

/** Pre-tokens per cache generation; a few MB of English has 30-60k distinct pre-tokens. */
const CACHE_CAPACITY = 65_536;
/** Longer pre-tokens are rare and would crowd the cache (the `tokenizers` library uses the same cut-off). */
const CACHE_MAX_PRETOKEN_LENGTH = 256;

// ignoreBOM keeps a leading U+FEFF in the text; by default TextDecoder silently drops it.
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** A byte-level BPE tokenizer, GPT-2 style. Build with `trainBpe` or `tokenizerFromJson`. */
export class Tokenizer {
  readonly vocabSize: number;
  readonly eosId: number;
  /** Equals `eosId` only for foreign tokenizers without a pad token; see `hasDistinctPad`. */
  readonly padId: number;
  /**
   * False when the tokenizer has no pad token (GPT-2's own): padding then reuses `<|endoftext|>`, the
   * transformers convention for GPT-2, which is safe because padded positions are masked out of attention
   * and loss. Adding a pad token instead would change the vocabulary size and so the embedding matrix.
   */
  readonly hasDistinctPad: boolean;
  readonly bosId: number | undefined;
  readonly userId: number | undefined;
  readonly assistantId: number | undefined;
  readonly merges: readonly (readonly [string, string])[];
  readonly addedTokens: readonly AddedToken[];
  readonly pipeline: TokenizerPipeline;

  private readonly modelVocab: Map<string, number>;
  private readonly addedByContent: Map<string, AddedToken>;
  private readonly addedById: Map<number, AddedToken>;
  private readonly tokens: (string | undefined)[];
  private readonly bytesOfId: (Uint8Array | undefined)[];
  private readonly byteIds: Int32Array;
  private readonly rankOf: Map<number, number>;
  private readonly mergeResult: Int32Array;
  /** Added tokens matched in raw text, then (`normalized`) in normalized text; with and without specials. */
  private readonly addedRegexes: {
    raw: ReturnType<typeof addedTokenRegex>;
    normalized: ReturnType<typeof addedTokenRegex>;
  }[];
  private readonly cache = new PreTokenCache(CACHE_CAPACITY);

  constructor(spec: TokenizerSpec) {
    this.pipeline = spec.pipeline ?? GPT2_PIPELINE;
    this.modelVocab = new Map();
    let maxId = -1;
    for (const [token, id] of spec.vocab) {
      if (!Number.isInteger(id) || id < 0 || id >= ID_LIMIT) {
        throw new Error(
          `vocab: token ${JSON.stringify(token)} has id ${id}; expected an integer in [0, ${ID_LIMIT})`,
        );
      }
      this.modelVocab.set(token, id);
      maxId = Math.max(maxId, id);
    }
    this.addedTokens = spec.addedTokens.map((t) => ({ ...t }));
    this.addedByContent = new Map();
    this.addedById = new Map();
    for (const t of this.addedTokens) {
      if (t.content.length === 0) throw new Error(`added token ${t.id} has empty content`);
      if (!Number.isInteger(t.id) || t.id < 0 || t.id >= ID_LIMIT) {
        throw new Error(
          `added token ${JSON.stringify(t.content)} has id ${t.id}; expected an integer in [0, ${ID_LIMIT})`,
        );
      }
      if (t.singleWord) {
        throw new Error(`added token ${JSON.stringify(t.content)}: single_word = true is not supported`);
      }
      this.addedByContent.set(t.content, t);
      this.addedById.set(t.id, t);
      maxId = Math.max(maxId, t.id);
    }
    this.vocabSize = maxId + 1;

    this.tokens = new Array(this.vocabSize);
    this.bytesOfId = new Array(this.vocabSize);
    for (const [token, id] of this.modelVocab) {
      if (this.addedById.has(id)) continue;
      const bytes = symbolsToBytes(token);
      if (!bytes) {
        throw new Error(
          `vocab: token ${JSON.stringify(token)} (id ${id}) has characters outside the byte-level alphabet; ` +
            "expected a byte-level BPE vocabulary like GPT-2's",
        );
      }
      if (this.tokens[id] !== undefined) {
        throw new Error(
          `vocab: id ${id} is used by both ${JSON.stringify(this.tokens[id])} and ${JSON.stringify(token)}`,
        );
      }
      this.tokens[id] = token;
      this.bytesOfId[id] = bytes;
    }
    for (const t of this.addedTokens) {
      this.tokens[t.id] = t.content;
      this.bytesOfId[t.id] = utf8Bytes(t.content);
    }

    this.byteIds = new Int32Array(256);
    for (let b = 0; b < 256; b++) {
      const id = this.modelVocab.get(BYTE_TO_UNICODE[b]!);
      if (id === undefined) {
        throw new Error(
          `vocab: byte 0x${b.toString(16).padStart(2, "0")} (symbol ${JSON.stringify(BYTE_TO_UNICODE[b])}) is missing; ` +
            "a byte-level BPE needs all 256 byte symbols to encode any text",
        );
      }
      this.byteIds[b] = id;
    }

    this.merges = spec.merges.map(([a, b]) => [a, b] as const);
    this.rankOf = new Map();
    this.mergeResult = new Int32Array(this.merges.length);
    this.merges.forEach(([a, b], rank) => {
      const left = this.modelVocab.get(a);
      const right = this.modelVocab.get(b);
      const result = this.modelVocab.get(a + b);
      if (left === undefined || right === undefined || result === undefined) {
        const missing = left === undefined ? a : right === undefined ? b : a + b;
        throw new Error(`merges[${rank}] "${a} ${b}": token ${JSON.stringify(missing)} is not in the vocab`);
      }
      const key = pairKey(left, right);
      // A pair listed twice keeps its last rank, as in GPT-2's `dict(zip(merges, range(...)))` and the
      // tokenizers library's HashMap collect.
      this.rankOf.set(key, rank);
      this.mergeResult[rank] = result;
    });

    // The tokenizers library matches `normalized: false` tokens in the raw text first, then normalizes the
    // text between them and matches the `normalized: true` ones; without a normalizer one pass does both.
    const twoPass = this.pipeline.normalize !== undefined;
    this.addedRegexes = [this.addedTokens, this.addedTokens.filter((t) => !t.special)].map((tokens) => ({
      raw: addedTokenRegex(twoPass ? tokens.filter((t) => !t.normalized) : tokens),
      normalized: twoPass ? addedTokenRegex(tokens.filter((t) => t.normalized)) : undefined,
    }));

    const roleId = (role: keyof TokenizerRoles, content: string) => {
      const id = this.tokenToId(content);
      if (id === undefined)
        throw new Error(`roles.${role}: token ${JSON.stringify(content)} is not in the vocab`);
      return id;
    };
    const firstPresent = (candidates: string[]) => candidates.find((c) => this.addedByContent.has(c));
    const eos = spec.roles?.eos ?? firstPresent(EOS_CANDIDATES);
    if (eos === undefined) {
      throw new Error(
        `no end-of-text token: expected one of ${EOS_CANDIDATES.map((c) => JSON.stringify(c)).join(", ")} ` +
          "among the added tokens, or roles.eos",
      );
    }
    this.eosId = roleId("eos", eos);
    const pad = spec.roles?.pad ?? firstPresent(PAD_CANDIDATES);
    this.padId = pad === undefined ? this.eosId : roleId("pad", pad);
    this.hasDistinctPad = this.padId !== this.eosId;
    // The post-processor's first token (Llama 3's <|begin_of_text|>) when no bos is named.
    const bos =
      spec.roles?.bos ??
      (this.pipeline.bosToken !== undefined && this.tokenToId(this.pipeline.bosToken) !== undefined
        ? this.pipeline.bosToken
        : undefined);
    this.bosId = bos === undefined ? undefined : roleId("bos", bos);
    this.userId = this.addedByContent.get(USER)?.id;
    this.assistantId = this.addedByContent.get(ASSISTANT)?.id;
  }

  /**
   * This tokenizer with the chat format's tokens added where they are missing — `<|user|>`,
   * `<|assistant|>`, and `<|pad|>` when padding would otherwise share end of text's id — as special
   * tokens after the last id, the way transformers' `add_special_tokens` extends GPT-2's. `added` lists
   * them in id order; a model using the result needs `vocabSize` embedding rows (`resizeTokenEmbeddings`).
   */
  withChatTokens(): { tokenizer: Tokenizer; added: string[] } {
    const added = [
      ...(this.hasDistinctPad || this.addedByContent.has(PAD) ? [] : [PAD]),
      ...[USER, ASSISTANT].filter((content) => !this.addedByContent.has(content)),
    ];
    if (added.length === 0) return { tokenizer: this, added };
    const contentOf = (id: number | undefined) => (id === undefined ? undefined : this.tokens[id]);
    const tokenizer = new Tokenizer({
      vocab: this.modelVocab,
      merges: this.merges,
      addedTokens: [
        ...this.addedTokens,
        ...added.map((content, i) => specialToken(this.vocabSize + i, content)),
      ],
      roles: {
        eos: contentOf(this.eosId),
        pad: added.includes(PAD) ? PAD : this.hasDistinctPad ? contentOf(this.padId) : undefined,
        bos: contentOf(this.bosId),
      },
      pipeline: this.pipeline,
    });
    return { tokenizer, added };
  }

  /** Id of a model token ("Ġthe") or an added token ("<|endoftext|>"). */
  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token)?.id ?? this.modelVocab.get(token);
  }

  /** Model tokens in byte-level form ("Ġthe"), added tokens as their content. */
  idToToken(id: number): string | undefined {
    return this.tokens[id];
  }

  /** The BPE model vocabulary (byte-level strings), as stored in tokenizer.json's `model.vocab`. */
  vocabEntries(): IterableIterator<[string, number]> {
    return this.modelVocab.entries();
  }

  isSpecial(id: number): boolean {
    return this.addedById.get(id)?.special ?? false;
  }

  /**
   * Text → ids. With `allowSpecial` (default) special-token strings in the text become their single ids;
   * without it they are encoded as ordinary text, which is what untrusted text (a user's prompt) needs.
   */
  encode(text: string, { allowSpecial = true }: { allowSpecial?: boolean } = {}): number[] {
    const ids: number[] = [];
    const { raw, normalized } = this.addedRegexes[allowSpecial ? 0 : 1]!;
    const normalize = this.pipeline.normalize;
    splitAdded(text, raw, ids, (segment) => {
      const text = normalize ? normalize(segment) : segment;
      splitAdded(text, normalized, ids, (piece) => this.encodeOrdinary(piece, ids));
    });
    return ids;
  }

  /** Ids → text. Bytes are joined before UTF-8 decoding, so tokens that split a character decode correctly. */
  decode(ids: readonly number[], { skipSpecial = false }: { skipSpecial?: boolean } = {}): string {
    const parts: Uint8Array[] = [];
    let length = 0;
    for (const id of ids) {
      const bytes = this.bytesOfId[id];
      if (bytes === undefined) {
        throw new RangeError(`decode: id ${id} is not in the vocabulary (size ${this.vocabSize})`);
      }
      if (skipSpecial && this.isSpecial(id)) continue;
      parts.push(bytes);
      length += bytes.length;
    }
    const joined = new Uint8Array(length);
    let offset = 0;
    for (const part of parts) {
      joined.set(part, offset);
      offset += part.length;
    }
    // Invalid UTF-8 (possible in sampled output) becomes U+FFFD, like transformers' errors="replace".
    return utf8Decoder.decode(joined);
  }

  /**
   * The chat format for one exchange: `<|user|>{prompt}<|assistant|>{response}<|endoftext|>`. Without a
   * response it stops after `<|assistant|>`, ready for generation. Prompt and response are encoded with
   * special tokens disabled so text cannot forge a turn boundary.
   */
  formatChat(prompt: string, response?: string): ChatEncoding {
    if (this.userId === undefined || this.assistantId === undefined) {
      throw new Error(
        `formatChat: the tokenizer has no ${USER} and ${ASSISTANT} tokens; train it with DEFAULT_SPECIAL_TOKENS`,
      );
    }
    const ids = [this.userId, ...this.encode(prompt, { allowSpecial: false }), this.assistantId];
    const responseStart = ids.length;
    let text = `${USER}${prompt}${ASSISTANT}`;
    if (response !== undefined) {
      ids.push(...this.encode(response, { allowSpecial: false }), this.eosId);
      text += `${response}${this.idToToken(this.eosId)}`;
    }
    return { ids, text, responseStart };
  }

  private encodeOrdinary(text: string, out: number[]): void {
    for (const piece of this.pipeline.preTokenize(text)) {
      let ids = this.cache.get(piece);
      if (ids === undefined) {
        const bytes = utf8Bytes(piece);
        const whole = this.pipeline.ignoreMerges ? this.modelVocab.get(bytesToSymbols(bytes)) : undefined;
        if (whole !== undefined) {
          ids = [whole];
        } else {
          const symbols: number[] = new Array(bytes.length);
          for (let i = 0; i < bytes.length; i++) symbols[i] = this.byteIds[bytes[i]!]!;
          ids = applyMerges(symbols, this.rankOf, this.mergeResult);
        }
        if (piece.length <= CACHE_MAX_PRETOKEN_LENGTH) this.cache.set(piece, ids);
      }
      for (const id of ids) out.push(id);
    }
  }
}

/** Calls `ordinary` for the text between matches of `added` and pushes each match's id. */
function splitAdded(
  text: string,
  added: ReturnType<typeof addedTokenRegex>,
  ids: number[],
  ordinary: (text: string) => void,
): void {
  if (!added) {
    if (text.length > 0) ordinary(text);
    return;
  }
  let last = 0;
  for (const match of text.matchAll(added.regex)) {
    const start = match.index;
    if (start > last) ordinary(text.slice(last, start));
    const group = match.findIndex((g, i) => i > 0 && g !== undefined);
    ids.push(added.groupIds[group - 1]!);
    last = start + match[0].length;
  }
  if (last < text.length) ordinary(text.slice(last));
}

/**
 * Approximate LRU with two generations: hits in the old generation are promoted, and when the new one
 * fills up it becomes the old one. A true LRU's delete-and-reinsert on every hit made encoding 4x slower.
 */
class PreTokenCache {
  private recent = new Map<string, number[]>();
  private older = new Map<string, number[]>();

  constructor(private readonly capacity: number) {}

  get(piece: string): number[] | undefined {
    const hit = this.recent.get(piece);
    if (hit !== undefined) return hit;
    const old = this.older.get(piece);
    if (old !== undefined) this.set(piece, old);
    return old;
  }

  set(piece: string, ids: number[]): void {
    if (this.recent.size >= this.capacity) {
      this.older = this.recent;
      this.recent = new Map();
    }
    this.recent.set(piece, ids);
  }
}
