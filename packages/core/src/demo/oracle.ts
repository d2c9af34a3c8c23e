import Sentiment from "sentiment";
import { chineseSentiment, hasHan } from "./lexicon-zh";

/**
 * The oracle annotator of the demo project: AFINN-165 sentiment (npm `sentiment`) stands in for people.
 * It scores a response (sum of word valences, so longer praise scores higher — as in TRL's "positive
 * reviews" experiment) and ranks the completions of a comparison task by that score. Chinese text is
 * scored with AFINN's Chinese translation (lexicon-zh.ts), so the same oracle judges the Chinese demo.
 */
const analyzer = new Sentiment();

export function oracleScore(text: string): number {
  const english = analyzer.analyze(text).score;
  // Chinese words are scored by the Chinese lexicon (lexicon-zh.ts); text without Han characters — all of
  // the English demo — is scored exactly as before.
  return hasHan(text) ? english + chineseSentiment(text).score : english;
}

/**
 * Rank completions best first by oracle score; equal scores form one group (a tie), which yields no
 * training pair — the same rule human ties follow.
 */
export function oracleRanking(completions: { id: string; response: string }[]): string[][] {
  const scored = completions.map((c) => ({ id: c.id, score: oracleScore(c.response) }));
  scored.sort((a, b) => b.score - a.score);
  const groups: string[][] = [];
  let previous: number | undefined;
  for (const { id, score } of scored) {
    if (score === previous) groups[groups.length - 1]!.push(id);
    else groups.push([id]);
    previous = score;
  }
  return groups;
}
