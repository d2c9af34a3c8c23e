/**
 * Learning byte-level BPE merges from a corpus (Sennrich et al. 2016, as GPT-2 does): the `Tokenizer` it
 * returns lays its ids out as ./bpe describes (special tokens, then the 256 bytes, then one per merge).
 *
 * Words (pre-tokens) are counted once; pair counts are then kept incrementally, and each merge rewrites only
 * the words that contain its pair (the `tokenizers` trainer's scheme).
 */
import {
  DEFAULT_SPECIAL_TOKENS,
  END_OF_TEXT,
  escapeRegExp,
  ID_LIMIT,
  pairKey,
  specialToken,
  Tokenizer,
} from "./bpe";
import { BYTE_TO_UNICODE, preTokenize, utf8Bytes } from "./byteLevel";

export interface TrainBpeOptions {
  /** Target size including special tokens and the 256 bytes; training stops early if pairs run out. */
  vocabSize: number;
  /** Default DEFAULT_SPECIAL_TOKENS; must include END_OF_TEXT. They get ids 0..n-1 in this order. */
  specialTokens?: readonly string[];
  /**
   * Stop when the most frequent pair occurs fewer times than this. Default 2 (the tokenizers library
   * defaults to 0): a pair seen once is a memorised fragment, not a reusable subword.
   */
  minFrequency?: number;
  onProgress?: (progress: TrainBpeProgress) => void;
}

export type TrainBpeProgress =
  | { phase: "count"; texts: number; distinctWords: number }
  | { phase: "merge"; merges: number; targetMerges: number };

/**
 * Learns byte-level BPE merges from texts. Deterministic and independent of text order: the most frequent
 * pair wins, ties go to the smallest (left id, right id).
 */
export function trainBpe(texts: Iterable<string>, options: TrainBpeOptions): Tokenizer {
  const specialTokens = [...(options.specialTokens ?? DEFAULT_SPECIAL_TOKENS)];
  const minFrequency = options.minFrequency ?? 2;
  const { vocabSize, onProgress } = options;
  const baseSize = specialTokens.length + 256;
  checkOptions(vocabSize, baseSize, specialTokens);

  // 1. Count pre-tokens.
  const wordCounts = countPreTokens(texts, specialTokens, onProgress);

  // 2. Words as symbol ids, and the initial pair counts with the words each pair occurs in.
  const S = specialTokens.length;
  const tokenSymbols: string[] = [...specialTokens, ...BYTE_TO_UNICODE];
  const idOfMergedSymbols = new Map<string, number>();
  const index = new PairIndex();
  for (const [word, count] of wordCounts) {
    const bytes = utf8Bytes(word);
    const symbols: number[] = new Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) symbols[i] = S + bytes[i]!;
    index.words.push(symbols);
    index.counts.push(count);
  }
  index.countPairs();
  const queue = new PairQueue();
  for (const [key, count] of index.pairCounts) queue.push(count, key);

  // 3. Merge the most frequent pair until the vocabulary is full.
  const merges: [string, string][] = [];
  const targetMerges = vocabSize - baseSize;
  while (tokenSymbols.length < vocabSize && queue.size > 0) {
    const { count, key } = queue.pop();
    const current = index.pairCounts.get(key) ?? 0;
    // Counts of existing pairs only fall after a merge, so a stale entry is re-queued at its true count.
    if (current !== count) {
      if (current > 0) queue.push(current, key);
      continue;
    }
    if (count < minFrequency) break;
    const left = Math.floor(key / ID_LIMIT);
    const right = key - left * ID_LIMIT;
    const symbols = tokenSymbols[left]! + tokenSymbols[right]!;
    let merged = idOfMergedSymbols.get(symbols);
    if (merged === undefined) {
      if (specialTokens.includes(symbols)) {
        throw new Error(
          `trainBpe: special token ${JSON.stringify(symbols)} is also a word learned from the corpus; ` +
            "give special tokens delimiters such as <|...|>",
        );
      }
      // Different merge paths can spell the same bytes (e.g. in runs of spaces); they share one id.
      merged = tokenSymbols.length;
      tokenSymbols.push(symbols);
      idOfMergedSymbols.set(symbols, merged);
    }
    merges.push([tokenSymbols[left]!, tokenSymbols[right]!]);

    for (const newKey of index.merge(key, merged, merges.length - 1)) {
      const c = index.pairCounts.get(newKey);
      if (c !== undefined && c > 0) queue.push(c, newKey);
    }
    if (onProgress && (merges.length % 100 === 0 || tokenSymbols.length === vocabSize)) {
      onProgress({ phase: "merge", merges: merges.length, targetMerges });
    }
  }

  const vocab: [string, number][] = tokenSymbols.map((token, id) => [token, id]);
  return new Tokenizer({
    vocab,
    merges,
    addedTokens: specialTokens.map((content, id) => specialToken(id, content)),
  });
}

function checkOptions(vocabSize: number, baseSize: number, specialTokens: readonly string[]): void {
  if (!Number.isInteger(vocabSize) || vocabSize < baseSize || vocabSize >= ID_LIMIT) {
    throw new Error(
      `trainBpe: vocabSize is ${vocabSize}; expected an integer from ${baseSize} ` +
        `(${specialTokens.length} special tokens + 256 bytes) to ${ID_LIMIT - 1}`,
    );
  }
  if (new Set(specialTokens).size !== specialTokens.length || specialTokens.some((t) => t.length === 0)) {
    throw new Error(
      `trainBpe: specialTokens must be distinct and non-empty; got ${JSON.stringify(specialTokens)}`,
    );
  }
  if (!specialTokens.includes(END_OF_TEXT)) {
    throw new Error(`trainBpe: specialTokens must include ${END_OF_TEXT} (the end-of-text token)`);
  }
}

/** Each distinct pre-token and its count; special tokens in the corpus are delimiters, not text to learn from. */
function countPreTokens(
  texts: Iterable<string>,
  specialTokens: readonly string[],
  onProgress: TrainBpeOptions["onProgress"],
): Map<string, number> {
  const specialSplit = new RegExp(
    [...specialTokens]
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp)
      .join("|"),
    "u",
  );
  const wordCounts = new Map<string, number>();
  let textCount = 0;
  for (const text of texts) {
    for (const segment of text.split(specialSplit)) {
      for (const word of preTokenize(segment)) wordCounts.set(word, (wordCounts.get(word) ?? 0) + 1);
    }
    textCount++;
    if (onProgress && textCount % 10_000 === 0) {
      onProgress({ phase: "count", texts: textCount, distinctWords: wordCounts.size });
    }
  }
  onProgress?.({ phase: "count", texts: textCount, distinctWords: wordCounts.size });
  return wordCounts;
}

/** The words as symbol ids with their counts, each adjacent pair's total count, and the words it occurs in. */
class PairIndex {
  readonly words: number[][] = [];
  readonly counts: number[] = [];
  readonly pairCounts = new Map<number, number>();
  private readonly wordsWithPair = new Map<number, number[]>();
  private lastVisit = new Int32Array(0);

  /** The initial pair counts, once the words are in. */
  countPairs(): void {
    this.lastVisit = new Int32Array(this.words.length).fill(-1);
    this.words.forEach((symbols, w) => {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = pairKey(symbols[i]!, symbols[i + 1]!);
        this.pairCounts.set(key, (this.pairCounts.get(key) ?? 0) + this.counts[w]!);
        this.addWordToPair(key, w);
      }
    });
  }

  /** Rewrites every word holding the pair `key` with `merged` in its place; the pairs it created. */
  merge(key: number, merged: number, mergeIndex: number): Set<number> {
    const left = Math.floor(key / ID_LIMIT);
    const right = key - left * ID_LIMIT;
    const newPairs = new Set<number>();
    for (const w of this.wordsWithPair.get(key) ?? []) {
      if (this.lastVisit[w] === mergeIndex) continue;
      this.lastVisit[w] = mergeIndex;
      const word = this.words[w]!;
      const wordCount = this.counts[w]!;
      const out: number[] = [];
      let changed = false;
      for (let i = 0; i < word.length; ) {
        if (i + 1 < word.length && word[i] === left && word[i + 1] === right) {
          // Before: … p A B n …   after: … p Z n …   (p may itself be a Z from the previous site)
          changed = true;
          this.bump(key, -wordCount);
          if (out.length > 0) {
            const p = out[out.length - 1]!;
            this.bump(pairKey(p, left), -wordCount);
            this.bump(pairKey(p, merged), wordCount);
            newPairs.add(pairKey(p, merged));
            this.addWordToPair(pairKey(p, merged), w);
          }
          if (i + 2 < word.length) {
            const n = word[i + 2]!;
            this.bump(pairKey(right, n), -wordCount);
            this.bump(pairKey(merged, n), wordCount);
            newPairs.add(pairKey(merged, n));
            this.addWordToPair(pairKey(merged, n), w);
          }
          out.push(merged);
          i += 2;
        } else {
          out.push(word[i]!);
          i++;
        }
      }
      if (changed) this.words[w] = out;
    }
    this.wordsWithPair.delete(key);
    return newPairs;
  }

  private addWordToPair(key: number, wordIndex: number): void {
    const list = this.wordsWithPair.get(key);
    if (!list) this.wordsWithPair.set(key, [wordIndex]);
    else if (list[list.length - 1] !== wordIndex) list.push(wordIndex);
  }

  private bump(key: number, delta: number): void {
    const next = (this.pairCounts.get(key) ?? 0) + delta;
    if (next === 0) this.pairCounts.delete(key);
    else this.pairCounts.set(key, next);
  }
}

/** Max-heap of (count, pair key); ties pop the smaller key, i.e. the smaller (left id, right id). */
class PairQueue {
  private readonly counts: number[] = [];
  private readonly keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  private before(countA: number, keyA: number, countB: number, keyB: number): boolean {
    return countA > countB || (countA === countB && keyA < keyB);
  }

  push(count: number, key: number): void {
    let i = this.counts.length;
    this.counts.push(count);
    this.keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(count, key, this.counts[parent]!, this.keys[parent]!)) break;
      this.counts[i] = this.counts[parent]!;
      this.keys[i] = this.keys[parent]!;
      i = parent;
    }
    this.counts[i] = count;
    this.keys[i] = key;
  }

  pop(): { count: number; key: number } {
    const top = { count: this.counts[0]!, key: this.keys[0]! };
    const count = this.counts.pop()!;
    const key = this.keys.pop()!;
    const n = this.counts.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(this.counts[r]!, this.keys[r]!, this.counts[l]!, this.keys[l]!) ? r : l;
      if (!this.before(this.counts[c]!, this.keys[c]!, count, key)) break;
      this.counts[i] = this.counts[c]!;
      this.keys[i] = this.keys[c]!;
      i = c;
    }
    this.counts[i] = count;
    this.keys[i] = key;
    return top;
  }
}
