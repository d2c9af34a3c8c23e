/**
 * Judges of what a policy writes that the demo never trains on, beside its oracle (AFINN, ./oracle.ts):
 * a policy can learn the oracle's quirks — AFINN sums word valences, so it pays for piling up positive
 * words — and a second judge built another way tells whether the text got more positive or only more
 * AFINN-shaped.
 *
 * - VADER (Hutto & Gilbert 2014; npm `vader-sentiment`, its authors' JavaScript port): its own lexicon of
 *   ~7,500 rated words and rules for negation ("not bad"), intensifiers ("very"), "but", capitals and
 *   exclamation marks, normalised to a compound score in [−1, 1]. English only: text with Han characters
 *   has no VADER score (null).
 * - distinct-n (Li et al. 2016): distinct word n-grams over all n-grams of a policy's samples — how varied
 *   its writing is; a policy that collapses onto one phrase scores near 0.
 */
/// <reference path="./vader-sentiment.d.ts" />
import vader from "vader-sentiment";
import { hasHan } from "./lexicon-zh";

/** VADER's compound score of `text` in [−1, 1]; null for Chinese text, which VADER cannot read. */
export function vaderScore(text: string): number | null {
  if (hasHan(text)) return null;
  return vader.SentimentIntensityAnalyzer.polarity_scores(text).compound;
}

/** Words of a text for counting n-grams: lower-cased letters and digits, each Han character a word. */
function words(text: string): string[] {
  return text.toLowerCase().match(/\p{Script=Han}|[\p{L}\p{N}']+/gu) ?? [];
}

/**
 * distinct-n of a set of texts: the number of distinct word n-grams divided by the number of n-grams, over
 * all texts together (Li et al. 2016). NaN when the texts hold no n-gram at all.
 */
export function distinctN(texts: readonly string[], n = 2): number {
  const seen = new Set<string>();
  let total = 0;
  for (const text of texts) {
    const w = words(text);
    for (let i = 0; i + n <= w.length; i++) {
      seen.add(w.slice(i, i + n).join(" "));
      total += 1;
    }
  }
  return total === 0 ? Number.NaN : seen.size / total;
}
