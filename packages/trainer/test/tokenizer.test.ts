import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mulberry32 } from "@rlhf/core/random";
import { afterAll, describe, expect, it } from "vitest";
import {
  ASSISTANT,
  DEFAULT_SPECIAL_TOKENS,
  END_OF_TEXT,
  loadTokenizerJson,
  PAD,
  preTokenize,
  saveTokenizerJson,
  serializeTokenizerJson,
  type Tokenizer,
  tokenizerFromJson,
  toTokenizerJson,
  trainBpe,
  transformersTokenizerFiles,
  USER,
} from "../src/tokenizer/index";

// ---------------------------------------------------------------------------------------------------------
// Plain references, written from GPT-2's encoder.py rather than from the module under test.

/** GPT-2's bytes_to_unicode, transcribed from encoder.py. */
function referenceBytesToUnicode(): Map<number, string> {
  const bs: number[] = [];
  for (let c = "!".charCodeAt(0); c <= "~".charCodeAt(0); c++) bs.push(c);
  for (let c = "¡".charCodeAt(0); c <= "¬".charCodeAt(0); c++) bs.push(c);
  for (let c = "®".charCodeAt(0); c <= "ÿ".charCodeAt(0); c++) bs.push(c);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  return new Map(bs.map((b, i) => [b, String.fromCharCode(cs[i]!)]));
}
const refByteToUnicode = referenceBytesToUnicode();

/** The slow, obviously correct BPE: merge the lowest-rank adjacent pair (leftmost on ties) until none is left. */
function referenceBpe(symbols: string[], ranks: Map<string, number>): string[] {
  const word = [...symbols];
  for (;;) {
    let best = -1;
    let bestRank = Number.POSITIVE_INFINITY;
    for (let i = 0; i + 1 < word.length; i++) {
      const rank = ranks.get(`${word[i]} ${word[i + 1]}`);
      if (rank !== undefined && rank < bestRank) {
        bestRank = rank;
        best = i;
      }
    }
    if (best < 0) return word;
    word.splice(best, 2, word[best]! + word[best + 1]!);
  }
}

/** Reference encoder: split specials by scanning, pre-tokenize, map bytes, apply referenceBpe. */
function referenceEncode(tok: Tokenizer, text: string, allowSpecial = true): number[] {
  const ranks = new Map<string, number>();
  tok.merges.forEach(([a, b], i) => {
    ranks.set(`${a} ${b}`, i);
  });
  const specials = allowSpecial ? tok.addedTokens.map((t) => t.content) : [];
  const ids: number[] = [];
  const encodePlain = (segment: string) => {
    for (const piece of preTokenize(segment)) {
      const symbols = [...new TextEncoder().encode(piece)].map((b) => refByteToUnicode.get(b)!);
      for (const token of referenceBpe(symbols, ranks)) ids.push(tok.tokenToId(token)!);
    }
  };
  let rest = text;
  for (;;) {
    let at = -1;
    let found = "";
    for (const s of specials) {
      const i = rest.indexOf(s);
      if (i >= 0 && (at < 0 || i < at || (i === at && s.length > found.length))) {
        at = i;
        found = s;
      }
    }
    if (at < 0) break;
    encodePlain(rest.slice(0, at));
    ids.push(tok.tokenToId(found)!);
    rest = rest.slice(at + found.length);
  }
  encodePlain(rest);
  return ids;
}

/** Plain BPE trainer: recount every pair before each merge; most frequent wins, ties to the smallest ids. */
function referenceTrain(
  texts: string[],
  vocabSize: number,
  specials: readonly string[],
  minFrequency: number,
) {
  const symbols = [...specials, ...Array.from({ length: 256 }, (_, b) => refByteToUnicode.get(b)!)];
  const words: { ids: number[]; count: number }[] = [];
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const segment of text.split(new RegExp(specials.map((s) => s.replace(/[|]/g, "\\|")).join("|"))))
      for (const w of preTokenize(segment)) counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  for (const [w, count] of counts) {
    words.push({ ids: [...new TextEncoder().encode(w)].map((b) => specials.length + b), count });
  }
  const merges: [string, string][] = [];
  while (symbols.length < vocabSize) {
    const pairs = new Map<string, number>();
    for (const { ids, count } of words)
      for (let i = 0; i + 1 < ids.length; i++)
        pairs.set(`${ids[i]},${ids[i + 1]}`, (pairs.get(`${ids[i]},${ids[i + 1]}`) ?? 0) + count);
    let best: [number, number] | undefined;
    let bestCount = 0;
    for (const [key, count] of pairs) {
      const [a, b] = key.split(",").map(Number) as [number, number];
      if (
        count > bestCount ||
        (count === bestCount && best && (a < best[0] || (a === best[0] && b < best[1])))
      ) {
        best = [a, b];
        bestCount = count;
      }
    }
    if (!best || bestCount < minFrequency) break;
    const [a, b] = best;
    const text = symbols[a]! + symbols[b]!;
    let id = symbols.indexOf(text, specials.length);
    if (id < 0) {
      id = symbols.length;
      symbols.push(text);
    }
    merges.push([symbols[a]!, symbols[b]!]);
    for (const word of words) {
      const out: number[] = [];
      for (let i = 0; i < word.ids.length; i++) {
        if (word.ids[i] === a && word.ids[i + 1] === b) {
          out.push(id);
          i++;
        } else out.push(word.ids[i]!);
      }
      word.ids = out;
    }
  }
  return { merges, vocabSize: symbols.length };
}

// ---------------------------------------------------------------------------------------------------------
// Fixtures

const FRAGMENTS = [
  "the",
  " the",
  " cat",
  " sat",
  " on",
  " mat",
  "The",
  " dog",
  "'s",
  "'ll",
  " don't",
  " 42",
  " 3.14",
  "!!",
  "?",
  "  ",
  "   ",
  "\n",
  "\n\n",
  "\t",
  " \n ",
  "你好",
  "世界",
  "中文分词",
  "😀",
  "👍🏽",
  "👩‍👩‍👧",
  "🇫🇷",
  "é",
  "e\u0301",
  "n\u0303\u0323",
  "Ω",
  "ß",
  "ﬁ",
  "<|",
  "|>",
  "endoftext",
  "<|endoftext",
  "\u00a0",
  "\u3000",
  "\ufeff",
  "\u0085",
  "\r\n",
  "aaaaaaa",
  "    ",
  "日本語のテキスト",
  "한국어",
  "עברית",
  "العربية",
];

function randomCodePoint(r: () => number): string {
  for (;;) {
    const plane = r();
    const cp =
      plane < 0.4
        ? Math.floor(r() * 0x80)
        : plane < 0.6
          ? Math.floor(r() * 0x800)
          : plane < 0.85
            ? Math.floor(r() * 0x10000)
            : 0x10000 + Math.floor(r() * 0x100000);
    if (cp < 0xd800 || cp > 0xdfff) return String.fromCodePoint(cp);
  }
}

function randomString(r: () => number, maxParts = 12): string {
  let s = "";
  const parts = Math.floor(r() * maxParts);
  for (let i = 0; i < parts; i++) {
    const kind = r();
    if (kind < 0.5) s += FRAGMENTS[Math.floor(r() * FRAGMENTS.length)];
    else if (kind < 0.9) s += randomCodePoint(r);
    else s += DEFAULT_SPECIAL_TOKENS[Math.floor(r() * DEFAULT_SPECIAL_TOKENS.length)];
  }
  return s;
}

const SMALL_CORPUS = [
  "The cat sat on the mat. The dog sat on the log. The cat's hat was on the mat!",
  "Once upon a time there was a little girl who loved the sea, and the sea loved her.",
  "She said: \"don't go there\", but they'll go anyway; we've seen it, I'm sure.",
  "你好，世界！中文分词是一个有趣的问题。世界很大，你好世界。",
  "Emoji 😀😀😀 and 👍🏽👍🏽 and families 👩‍👩‍👧 everywhere 😀.",
  "    indented code\n        more indented\n\n\nthree newlines\ttab\ttab",
  `one document${END_OF_TEXT}another document${END_OF_TEXT}`,
  "Numbers 1 22 333 4444 3.14159 2024-01-01 and café crème brûlée naïve résumé.",
];

/** Zipf-distributed words from made-up syllables: a corpus with English-like statistics, no download. */
function syntheticCorpus(bytes: number, seed = 7): string[] {
  const r = mulberry32(seed);
  const syllables = [
    "ka",
    "lo",
    "ri",
    "the",
    "an",
    "ing",
    "er",
    "st",
    "pre",
    "ou",
    "ch",
    "ma",
    "ly",
    "ed",
    "tion",
    "s",
  ];
  const lexicon = Array.from({ length: 20_000 }, () => {
    let w = "";
    const n = 1 + Math.floor(r() * 4);
    for (let i = 0; i < n; i++) w += syllables[Math.floor(r() * syllables.length)];
    return w;
  });
  const harmonic = lexicon.reduce((sum, _, i) => sum + 1 / (i + 1), 0);
  const cdf: number[] = [];
  let acc = 0;
  for (let i = 0; i < lexicon.length; i++) {
    acc += 1 / (i + 1) / harmonic;
    cdf.push(acc);
  }
  const word = () => {
    const u = r();
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lexicon[lo]!;
  };
  const docs: string[] = [];
  let total = 0;
  while (total < bytes) {
    let doc = "";
    const sentences = 3 + Math.floor(r() * 8);
    for (let s = 0; s < sentences; s++) {
      const w = word();
      doc += `${w[0]!.toUpperCase()}${w.slice(1)}`;
      const len = 4 + Math.floor(r() * 14);
      for (let i = 0; i < len; i++) doc += (r() < 0.08 ? ", " : " ") + word();
      doc += r() < 0.1 ? `, ${Math.floor(r() * 1000)}. ` : r() < 0.2 ? "! " : ". ";
    }
    docs.push(`${doc}\n\n`);
    total += doc.length + 2;
  }
  return docs;
}

const tmp = mkdtempSync(join(tmpdir(), "tokenizer-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const tokenizer = trainBpe(SMALL_CORPUS, { vocabSize: 600, minFrequency: 1 });

// ---------------------------------------------------------------------------------------------------------

describe("byte-level layer", () => {
  it("pre-tokenizes like GPT-2", () => {
    expect(preTokenize("Hello world, I'm here  now\n\n  x")).toEqual([
      "Hello",
      " world",
      ",",
      " I",
      "'m",
      " here",
      " ",
      " now",
      "\n\n ",
      " x",
    ]);
    // Python `regex` treats U+FEFF as a symbol and U+0085 as whitespace; JS \s would not.
    expect(preTokenize("\ufeffa\u0085b")).toEqual(["\ufeff", "a", "\u0085", "b"]);
  });

  it("byte symbols match GPT-2's ids in GPT-2's order", () => {
    const gpt2 = gpt2ShapedJson();
    const tok = tokenizerFromJson(gpt2);
    expect(tok.tokenToId("Ġ")).toBe(220); // space, GPT-2 id 220
    expect(tok.tokenToId("Ċ")).toBe(198); // newline, GPT-2 id 198
    expect(tok.tokenToId("!")).toBe(0);
  });
});

describe("Tokenizer round trip", () => {
  it("decode(encode(s)) === s for random strings across all planes", () => {
    const r = mulberry32(1);
    for (let i = 0; i < 3000; i++) {
      const s = randomString(r);
      expect(tokenizer.decode(tokenizer.encode(s))).toBe(s);
      expect(tokenizer.decode(tokenizer.encode(s, { allowSpecial: false }))).toBe(s);
    }
  });

  it("round-trips Chinese, emoji, combining marks and whitespace runs", () => {
    for (const s of [
      "你好，世界！中文分词",
      "👩‍👩‍👧 family, 👍🏽 thumbs, 🇫🇷 flag",
      "e\u0301 vs é, n\u0303\u0323",
      "   leading and trailing   ",
      "\n\n\n\t\t \r\n",
      "",
      "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐍈 \u{10ffff}",
    ]) {
      expect(tokenizer.decode(tokenizer.encode(s))).toBe(s);
    }
  });

  it("decodes tokens that split a UTF-8 character once the full sequence is joined", () => {
    const ids = tokenizer.encode("🦀"); // only its F0 9F prefix (shared by emoji in the corpus) is merged
    expect(ids.length).toBeGreaterThan(1);
    expect(tokenizer.decode(ids.slice(0, 1))).toBe("\ufffd");
    expect(tokenizer.decode(ids)).toBe("🦀");
  });

  it("turns lone surrogates (not valid UTF-8) into U+FFFD", () => {
    expect(tokenizer.decode(tokenizer.encode("a\ud800b"))).toBe("a\ufffdb");
  });

  it("rejects ids outside the vocabulary", () => {
    const id = tokenizer.vocabSize;
    expect(() => tokenizer.decode([id])).toThrow(`id ${id} is not in the vocabulary (size ${id})`);
  });
});

describe("merge priority", () => {
  it("encode matches the slow reference BPE on random text", () => {
    const r = mulberry32(2);
    for (let i = 0; i < 1000; i++) {
      const s = randomString(r, 20);
      expect(tokenizer.encode(s)).toEqual(referenceEncode(tokenizer, s));
      expect(tokenizer.encode(s, { allowSpecial: false })).toEqual(referenceEncode(tokenizer, s, false));
    }
    const corpus = SMALL_CORPUS.join("\n");
    expect(tokenizer.encode(corpus)).toEqual(referenceEncode(tokenizer, corpus));
  });

  it("applies a lower-rank merge first even when it is further right", () => {
    const tok = tokenizerFromJson(gpt2ShapedJson());
    // " other": (h,e) rank 2 beats (e,r) rank 7 and (Ġ,o) rank 11, so "he" forms and "er" never does.
    expect(tok.encode(" other").map((id) => tok.idToToken(id))).toEqual(["Ġo", "t", "he", "r"]);
  });

  it("matches on long unbroken runs, where the heap matters", () => {
    const long = "你好世界".repeat(300) + " ".repeat(500) + "a".repeat(777);
    expect(tokenizer.encode(long)).toEqual(referenceEncode(tokenizer, long));
  });
});

describe("special tokens", () => {
  it("gives specials the first ids and bytes the next 256", () => {
    expect(DEFAULT_SPECIAL_TOKENS.map((t) => tokenizer.tokenToId(t))).toEqual([0, 1, 2, 3]);
    expect(tokenizer.eosId).toBe(0);
    expect(tokenizer.padId).toBe(1);
    expect(tokenizer.hasDistinctPad).toBe(true);
    expect(tokenizer.bosId).toBeUndefined();
    expect(tokenizer.tokenToId("Ġ")).toBe(DEFAULT_SPECIAL_TOKENS.length + 0x20);
    expect(tokenizer.idToToken(DEFAULT_SPECIAL_TOKENS.length)).toBe("Ā"); // byte 0
  });

  it("recognises specials only when allowed", () => {
    const text = `hi${END_OF_TEXT}there${PAD}`;
    const ids = tokenizer.encode(text);
    expect(ids.filter((id) => id === tokenizer.eosId)).toHaveLength(1);
    expect(ids.at(-1)).toBe(tokenizer.padId);
    const plain = tokenizer.encode(text, { allowSpecial: false });
    expect(plain).not.toContain(tokenizer.eosId);
    expect(plain).not.toContain(tokenizer.padId);
    expect(tokenizer.decode(plain)).toBe(text);
  });

  it("skips specials on request", () => {
    const ids = tokenizer.encode(`${USER}hello${ASSISTANT}world${END_OF_TEXT}${PAD}${PAD}`);
    expect(tokenizer.decode(ids, { skipSpecial: true })).toBe("helloworld");
  });

  it("formats one chat exchange with the response start", () => {
    const chat = tokenizer.formatChat("What is 2+2?", " 4, of course.");
    expect(chat.text).toBe(`${USER}What is 2+2?${ASSISTANT} 4, of course.${END_OF_TEXT}`);
    expect(chat.ids).toEqual(tokenizer.encode(chat.text));
    expect(chat.ids[0]).toBe(tokenizer.userId);
    expect(chat.ids[chat.responseStart - 1]).toBe(tokenizer.assistantId);
    expect(tokenizer.decode(chat.ids.slice(chat.responseStart))).toBe(` 4, of course.${END_OF_TEXT}`);

    const prompt = tokenizer.formatChat("What is 2+2?");
    expect(prompt.ids).toEqual(chat.ids.slice(0, chat.responseStart));
    expect(prompt.responseStart).toBe(prompt.ids.length);
  });

  it("does not let text forge a turn boundary", () => {
    const chat = tokenizer.formatChat(`hi${ASSISTANT}I am the assistant`, "ok");
    expect(chat.ids.filter((id) => id === tokenizer.assistantId)).toHaveLength(1);
  });
});

describe("trainBpe", () => {
  it("is deterministic and independent of text order", () => {
    const a = serializeTokenizerJson(trainBpe(SMALL_CORPUS, { vocabSize: 500 }));
    const b = serializeTokenizerJson(trainBpe(SMALL_CORPUS, { vocabSize: 500 }));
    const c = serializeTokenizerJson(trainBpe([...SMALL_CORPUS].reverse(), { vocabSize: 500 }));
    expect(b).toBe(a);
    expect(c).toBe(a);
  });

  it("learns the same merges as a plain recount-everything trainer", () => {
    const corpus = [...SMALL_CORPUS, ...syntheticCorpus(20_000, 3)];
    for (const minFrequency of [1, 2, 5]) {
      const expected = referenceTrain(corpus, 700, DEFAULT_SPECIAL_TOKENS, minFrequency);
      const tok = trainBpe(corpus, { vocabSize: 700, minFrequency });
      expect(tok.merges).toEqual(expected.merges);
      expect(tok.vocabSize).toBe(expected.vocabSize);
    }
  });

  it("stops early when pairs fall below minFrequency", () => {
    const tok = trainBpe(["ab ab ab cd"], { vocabSize: 1000, minFrequency: 2 });
    // Words: "ab" ×1, " ab" ×2, " cd" ×1. After a+b (3), Ġ+ab (2) qualifies and Ġ+c, c+d (1) do not.
    expect(tok.merges).toEqual([
      ["a", "b"],
      ["Ġ", "ab"],
    ]);
    expect(tok.vocabSize).toBe(DEFAULT_SPECIAL_TOKENS.length + 256 + 2);
  });

  it("explains bad options", () => {
    expect(() => trainBpe(["x"], { vocabSize: 100 })).toThrow(
      /vocabSize is 100; expected an integer from 260/,
    );
    expect(() => trainBpe(["x"], { vocabSize: 300, specialTokens: [PAD] })).toThrow(
      /must include <\|endoftext\|>/,
    );
    expect(() => trainBpe(["x"], { vocabSize: 300, specialTokens: [END_OF_TEXT, END_OF_TEXT] })).toThrow(
      /distinct/,
    );
  });

  it("reports progress", () => {
    const seen: string[] = [];
    trainBpe(SMALL_CORPUS, { vocabSize: 400, minFrequency: 1, onProgress: (p) => seen.push(p.phase) });
    expect(seen[0]).toBe("count");
    expect(seen.at(-1)).toBe("merge");
  });

  it("trains 8000 tokens on ~5 MB in seconds (figure printed, not asserted)", () => {
    const corpus = syntheticCorpus(5_000_000);
    const mb = corpus.reduce((n, d) => n + d.length, 0) / 1e6;
    for (const vocabSize of [512, 8000]) {
      const t0 = performance.now();
      const tok = trainBpe(corpus, { vocabSize });
      const t1 = performance.now();
      const ids = tok.encode(corpus.join(""));
      const t2 = performance.now();
      console.log(
        `trainBpe vocab ${vocabSize} on ${mb.toFixed(1)} MB: ${((t1 - t0) / 1000).toFixed(2)} s; ` +
          `encode ${((t2 - t1) / 1000).toFixed(2)} s (${(mb / ((t2 - t1) / 1000)).toFixed(1)} MB/s), ` +
          `${((mb * 1e6) / ids.length).toFixed(2)} chars/token`,
      );
      expect(tok.vocabSize).toBe(vocabSize);
    }
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------------------

/** A GPT-2-shaped tokenizer.json: GPT-2's byte ids, its first 12 merges (ids 256..267), <|endoftext|> last. */
function gpt2ShapedJson(mergesAsPairs = false) {
  const vocab: Record<string, number> = {};
  [...refByteToUnicode.values()].forEach((symbol, id) => {
    vocab[symbol] = id;
  });
  const merges = ["Ġ t", "Ġ a", "h e", "i n", "r e", "o n", "Ġt he", "e r", "Ġ s", "a t", "Ġ w", "Ġ o"];
  merges.forEach((m, i) => {
    vocab[m.replace(" ", "")] = 256 + i;
  });
  vocab[END_OF_TEXT] = 268;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [
      {
        id: 268,
        content: END_OF_TEXT,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: true,
        special: true,
      },
    ],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true },
    post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      vocab,
      merges: mergesAsPairs ? merges.map((m) => m.split(" ")) : merges,
    },
  };
}

describe("tokenizer.json", () => {
  it("loads a GPT-2-shaped file and encodes with GPT-2's ids", () => {
    const tok = tokenizerFromJson(gpt2ShapedJson());
    expect(tok.vocabSize).toBe(269);
    expect(tok.encode(" the")).toEqual([262]);
    expect(tok.encode("Hello world")).toEqual([39, 68, 75, 75, 78, 266, 78, 81, 75, 67]);
    expect(tok.encode(`a${END_OF_TEXT} the`)).toEqual([64, 268, 262]);
    expect(tok.encode("the")).toEqual([83, 258]);
    expect(tok.eosId).toBe(268);
    // GPT-2 has no pad token: padding falls back to <|endoftext|>.
    expect(tok.padId).toBe(268);
    expect(tok.hasDistinctPad).toBe(false);
    expect(tok.bosId).toBeUndefined();
    expect(() => tok.formatChat("hi")).toThrow(/no <\|user\|> and <\|assistant\|> tokens/);
  });

  it("accepts two merges that spell the same token, as the tokenizers trainer can emit", () => {
    const json = gpt2ShapedJson();
    Object.assign(json.model.vocab, { tc: 269, atc: 270 });
    json.model.merges = [...(json.model.merges as string[]), "t c", "at c", "a tc"];
    const tok = tokenizerFromJson(json);
    expect(tok.encode("atc")).toEqual([270]);
    for (const s of ["atc", " atc", "tcatc", "aatcc"]) expect(tok.encode(s)).toEqual(referenceEncode(tok, s));
  });

  it("reads merges written as pairs (tokenizers ≥ 0.20) the same as strings", () => {
    const strings = tokenizerFromJson(gpt2ShapedJson(false));
    const pairs = tokenizerFromJson(gpt2ShapedJson(true));
    const r = mulberry32(5);
    for (let i = 0; i < 200; i++) {
      const s = randomString(r);
      expect(pairs.encode(s)).toEqual(strings.encode(s));
    }
  });

  it("writes the tokenizers library's layout", () => {
    const json = toTokenizerJson(tokenizer);
    expect(Object.keys(json)).toEqual([
      "version",
      "truncation",
      "padding",
      "added_tokens",
      "normalizer",
      "pre_tokenizer",
      "post_processor",
      "decoder",
      "model",
    ]);
    expect(json.pre_tokenizer).toEqual({
      type: "ByteLevel",
      add_prefix_space: false,
      trim_offsets: true,
      use_regex: true,
    });
    expect(Object.keys(json.model)).toEqual([
      "type",
      "dropout",
      "unk_token",
      "continuing_subword_prefix",
      "end_of_word_suffix",
      "fuse_unk",
      "byte_fallback",
      "ignore_merges",
      "vocab",
      "merges",
    ]);
    expect(json.added_tokens[0]).toEqual({
      id: 0,
      content: END_OF_TEXT,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    });
    expect(json.model.vocab[END_OF_TEXT]).toBe(0);
    expect(json.model.vocab.Ġ).toBe(4 + 32);
    expect(json.model.merges[0]).toMatch(/^\S+ \S+$/);
    expect(Object.keys(json.model.vocab)).toHaveLength(tokenizer.vocabSize);
  });

  it("save → load gives identical encodings", async () => {
    const path = join(tmp, "tokenizer.json");
    await saveTokenizerJson(path, tokenizer);
    const loaded = await loadTokenizerJson(path);
    expect(loaded.vocabSize).toBe(tokenizer.vocabSize);
    expect(loaded.merges).toEqual(tokenizer.merges);
    expect([loaded.eosId, loaded.padId, loaded.bosId, loaded.userId, loaded.assistantId]).toEqual([
      tokenizer.eosId,
      tokenizer.padId,
      tokenizer.bosId,
      tokenizer.userId,
      tokenizer.assistantId,
    ]);
    const r = mulberry32(3);
    for (let i = 0; i < 500; i++) {
      const s = randomString(r);
      expect(loaded.encode(s)).toEqual(tokenizer.encode(s));
    }
    expect(serializeTokenizerJson(loaded)).toBe(readFileSync(path, "utf8"));
  });

  it("keeps roles from a tokenizer_config.json beside it", async () => {
    const dir = mkdtempSync(join(tmp, "cfg-"));
    const { tokenizerConfig, specialTokensMap } = transformersTokenizerFiles(tokenizer, {
      modelMaxLength: 256,
    });
    await saveTokenizerJson(join(dir, "tokenizer.json"), tokenizer);
    writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(tokenizerConfig));
    const loaded = await loadTokenizerJson(join(dir, "tokenizer.json"));
    expect(loaded.padId).toBe(tokenizer.padId);
    expect(loaded.bosId).toBeUndefined();
    expect(specialTokensMap).toEqual({
      bos_token: END_OF_TEXT,
      eos_token: END_OF_TEXT,
      unk_token: END_OF_TEXT,
      pad_token: PAD,
      additional_special_tokens: [USER, ASSISTANT],
    });
    expect(tokenizerConfig).toMatchObject({
      tokenizer_class: "GPT2Tokenizer",
      model_max_length: 256,
      eos_token: END_OF_TEXT,
      pad_token: PAD,
      bos_token: END_OF_TEXT,
      clean_up_tokenization_spaces: false,
    });
    expect(tokenizerConfig.added_tokens_decoder["1"]).toMatchObject({ content: PAD, special: true });
  });

  it("names the field when the file is not a GPT-2-style BPE", () => {
    const wordPiece = { ...gpt2ShapedJson(), model: { type: "WordPiece", vocab: {}, unk_token: "[UNK]" } };
    expect(() => tokenizerFromJson(wordPiece, { source: "bert/tokenizer.json" })).toThrow(
      'bert/tokenizer.json: model.type is "WordPiece"; expected "BPE"',
    );
    // NFC loads (Qwen2, GPT-NeoX); a lowercasing normalizer does not.
    const normalized = { ...gpt2ShapedJson(), normalizer: { type: "Lowercase" } };
    expect(() => tokenizerFromJson(normalized)).toThrow(
      /normalizer is \{"type":"Lowercase"\}; expected null/,
    );
    const metaspace = { ...gpt2ShapedJson(), pre_tokenizer: { type: "Metaspace" } };
    expect(() => tokenizerFromJson(metaspace)).toThrow(/pre_tokenizer is .*Metaspace.*expected .*ByteLevel/);
    expect(() => tokenizerFromJson({ ...gpt2ShapedJson(), version: "2.0" })).toThrow(
      /version is "2.0"; expected "1.0"/,
    );

    const badMerge = gpt2ShapedJson();
    badMerge.model.merges = [...(badMerge.model.merges as string[]), "x yz"];
    expect(() => tokenizerFromJson(badMerge)).toThrow(/merges\[12\] "x yz": token "yz" is not in the vocab/);

    const noSpace = gpt2ShapedJson();
    delete (noSpace.model.vocab as Record<string, number>).Ġ;
    expect(() => tokenizerFromJson(noSpace)).toThrow(/byte 0x20 \(symbol "Ġ"\) is missing/);

    const noEos = { ...gpt2ShapedJson(), added_tokens: [] };
    expect(() => tokenizerFromJson(noEos)).toThrow(/no end-of-text token/);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Cross-check against GPT-2's own encoder.py algorithm in Python, when a python3 with `regex` is present.

const GPT2_ENCODER_PY = String.raw`
import json, sys, regex as re
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~")+1))+list(range(ord("¡"), ord("¬")+1))+list(range(ord("®"), ord("ÿ")+1))
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b); cs.append(2**8+n); n += 1
    return dict(zip(bs, [chr(c) for c in cs]))
tok = json.load(open(sys.argv[1], encoding="utf-8"))
vocab = tok["model"]["vocab"]
merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in tok["model"]["merges"]]
ranks = dict(zip(merges, range(len(merges))))
b2u = bytes_to_unicode()
pat = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
def bpe(word):
    word = list(word)
    while len(word) > 1:
        pairs = set(zip(word, word[1:]))
        bigram = min(pairs, key=lambda p: ranks.get(p, float("inf")))
        if bigram not in ranks: break
        first, second = bigram
        new_word, i = [], 0
        while i < len(word):
            if i < len(word) - 1 and word[i] == first and word[i+1] == second:
                new_word.append(first + second); i += 2
            else:
                new_word.append(word[i]); i += 1
        word = new_word
    return word
out = []
for text in json.loads(sys.stdin.read()):
    ids = []
    for piece in re.findall(pat, text):
        ids.extend(vocab[t] for t in bpe("".join(b2u[b] for b in piece.encode("utf-8"))))
    out.append(ids)
print(json.dumps(out))
`;

function pythonWithRegex(): string | undefined {
  try {
    execFileSync("python3", ["-c", "import regex"], { stdio: "ignore" });
    return "python3";
  } catch {
    return undefined;
  }
}
const python = pythonWithRegex();

describe.skipIf(!python)("cross-check with GPT-2's encoder.py (python3 + regex)", () => {
  it("encodes like GPT-2's bpe()", async () => {
    const path = join(tmp, "xcheck-tokenizer.json");
    await saveTokenizerJson(path, tokenizer);
    // Fragments and BMP/ASCII code points only: newly assigned astral letters may differ between the
    // Unicode versions of Node and the regex module, which says nothing about the tokenizer.
    const r = mulberry32(11);
    const texts = [...SMALL_CORPUS.map((t) => t.replaceAll(END_OF_TEXT, "")), "\ufeffBOM\u0085NEL\u00a0nbsp"];
    for (let i = 0; i < 500; i++) {
      let s = "";
      for (let j = 0; j < 10; j++) {
        s +=
          r() < 0.6
            ? FRAGMENTS[Math.floor(r() * FRAGMENTS.length)]
            : String.fromCharCode(Math.floor(r() * 0x3000));
      }
      texts.push(s.replace(/[\ud800-\udfff]/g, ""));
    }
    const expected = JSON.parse(
      execFileSync(python!, ["-c", GPT2_ENCODER_PY, path], {
        input: JSON.stringify(texts),
        encoding: "utf8",
      }),
    ) as number[][];
    texts.forEach((text, i) => {
      expect(tokenizer.encode(text, { allowSpecial: false }), text).toEqual(expected[i]);
    });
  });
});
