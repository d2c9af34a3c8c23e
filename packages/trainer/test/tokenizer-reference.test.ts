/**
 * The tokenizer against an independent implementation: Hugging Face's tokenizers.js
 * (`@huggingface/tokenizers`, a port of the Rust `tokenizers` library that Transformers.js uses) loads the
 * tokenizer.json and tokenizer_config.json the workbench writes, and must split every text into the same
 * ids and decode them to the same strings. A tokenizer trained on the English demo corpus and one trained
 * on the Chinese one are checked on their own corpora, on what people paste (emoji, combining marks,
 * whitespace runs, code, other scripts, contractions), on random strings from every Unicode plane, and on
 * text with the special tokens in it; and a GPT-2-shaped file written by hand loads the same in both.
 */
import { Tokenizer as ReferenceTokenizer } from "@huggingface/tokenizers";
import { generateDemo } from "@rlhf/core/demo";
import { mulberry32 as random } from "@rlhf/core/random";
import { describe, expect, it } from "vitest";
import {
  END_OF_TEXT,
  type Tokenizer,
  tokenizerFromJson,
  toTokenizerJson,
  trainBpe,
  transformersTokenizerFiles,
} from "../src/tokenizer";

/** Both implementations, loaded from the same files the workbench writes into a checkpoint. */
function bothOf(tokenizer: Tokenizer) {
  const json = JSON.parse(JSON.stringify(toTokenizerJson(tokenizer)));
  const { tokenizerConfig } = transformersTokenizerFiles(tokenizer, { modelMaxLength: 1024 });
  const reference = new ReferenceTokenizer(json, JSON.parse(JSON.stringify(tokenizerConfig)));
  return { ours: tokenizerFromJson(json), reference };
}

/** A string of code points from every plane and of every width, with runs of spaces and newlines. */
function randomText(rand: () => number, length: number): string {
  const ranges: [number, number][] = [
    [0x20, 0x7e], // ASCII
    [0x20, 0x7e],
    [0xa0, 0x24f], // Latin-1 and Latin Extended
    [0x370, 0x3ff], // Greek
    [0x400, 0x4ff], // Cyrillic
    [0x300, 0x36f], // combining marks
    [0x4e00, 0x9fff], // CJK
    [0xac00, 0xd7a3], // Hangul
    [0x1f300, 0x1faff], // emoji
    [0x20000, 0x2a6df], // CJK extension B (astral)
  ];
  let text = "";
  for (let i = 0; i < length; i++) {
    const r = rand();
    if (r < 0.08) text += " ".repeat(1 + Math.floor(rand() * 4));
    else if (r < 0.11) text += rand() < 0.5 ? "\n" : "\t";
    else {
      const [lo, hi] = ranges[Math.floor(rand() * ranges.length)]!;
      text += String.fromCodePoint(lo + Math.floor(rand() * (hi - lo + 1)));
    }
  }
  return text;
}

const PASTED = [
  "",
  " ",
  "Hello world",
  "  two leading spaces and two trailing  ",
  "tabs\tand\nnewlines\n\n\nand\r\nCRLF",
  "I'm sure they'll say it's what we've done, isn't it? DON'T SHOUT",
  "numbers 12345 3.14159 1,000,000 and 2026-12-05",
  "const x = (a, b) => a ** 2 + b; // code\n  return {x};",
  "emoji 👍🏽 👨‍👩‍👧 and flags 🇫🇷🇯🇵",
  "combining: e\u0301 vs \u00e9, n\u0303, Å vs A\u030a",
  "Ελληνικά, русский язык, עברית, العربية, हिन्दी, ไทย",
  "今天的天气很好，我们去公园散步吧！",
  "混合 mixed 文字 text，标点。「引号」",
  "     ",
  "a\u00a0non-breaking\u2003em-space",
  "zero\u200bwidth\u200djoiner",
];

function expectSameEncodings(ours: Tokenizer, reference: ReferenceTokenizer, texts: readonly string[]) {
  for (const text of texts) {
    const expected = reference.encode(text, { add_special_tokens: false }).ids;
    const got = ours.encode(text, { allowSpecial: true });
    expect(got, JSON.stringify(text)).toEqual(expected);
    // tokenizers.js refuses to decode no ids at all; the empty text is "" in both.
    const decoded = expected.length === 0 ? "" : reference.decode(expected);
    expect(ours.decode(got), JSON.stringify(text)).toBe(decoded);
  }
}

describe.each([
  ["English", "en"],
  ["Chinese", "zh"],
] as const)("a tokenizer trained on the %s demo corpus", (_, language) => {
  const demo = generateDemo({ language, corpusSize: 1500, sftSize: 300 });
  const tokenizer = trainBpe(demo.corpus, { vocabSize: 1024 });
  const { ours, reference } = bothOf(tokenizer);

  it("gives tokenizers.js's ids on its own corpus and SFT pairs", () => {
    const texts = [
      ...demo.corpus.slice(0, 200),
      ...demo.sft.slice(0, 100).flatMap((pair) => [pair.prompt, pair.response]),
    ];
    expectSameEncodings(ours, reference, texts);
    // The check has teeth: the corpus is split into many merged tokens, not bytes.
    const ids = ours.encode(texts.join(" "));
    expect(ids.length).toBeLessThan(utf8Length(texts.join(" ")) / 2);
  });

  it("gives tokenizers.js's ids on pasted text of every kind", () => {
    expectSameEncodings(ours, reference, PASTED);
  });

  it("gives tokenizers.js's ids on random strings from every Unicode plane", () => {
    const rand = random(language === "en" ? 7 : 8);
    expectSameEncodings(
      ours,
      reference,
      Array.from({ length: 200 }, () => randomText(rand, 1 + Math.floor(rand() * 40))),
    );
  });

  it("splits the special tokens out of text as tokenizers.js does", () => {
    const eos = tokenizer.eosId;
    const texts = [
      `first document${END_OF_TEXT}second document`,
      `${END_OF_TEXT}${END_OF_TEXT}`,
      `a <|endoftext  |> that is not one, ${END_OF_TEXT} that is`,
    ];
    expectSameEncodings(ours, reference, texts);
    expect(ours.encode(texts[0]!)).toContain(eos);
  });
});

describe("a GPT-2-shaped tokenizer.json written by hand", () => {
  it("loads in both with the same ids", () => {
    const base = trainBpe(["low lower lowest newer wider"], { vocabSize: 300 });
    const json = JSON.parse(JSON.stringify(toTokenizerJson(base)));
    const reference = new ReferenceTokenizer(json, {});
    expectSameEncodings(tokenizerFromJson(json), reference, ["lower newest widest", "the lowest", " low"]);
  });
});

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}
