/**
 * Rankings → preference pairs. A ranking is groups of completion ids, best group first; a group of more
 * than one is a tie. Every completion beats every completion of every later group, so a strict ranking
 * of K gives C(K, 2) pairs (InstructGPT §3.5) and ties give none between their members.
 */

export interface RankingAnswer {
  /** Groups of completion ids, best first; null for a skipped or "all bad" answer. */
  ranking: string[][] | null;
  skipped?: boolean;
  allBad?: boolean;
  /** The annotator's strength of preference: 1 = slightly better, 2 = much better. */
  strength?: number | null;
}

export interface PreferencePair {
  chosen: string;
  rejected: string;
  /** The annotator's strength, when given: the margin m of −log σ(r_c − r_r − m). */
  margin?: number;
}

/**
 * The (chosen, rejected) pairs a ranking implies, in ranking order: for each group, its members against
 * each member of every later group. Skipped and "all bad" answers imply none (nothing was ordered).
 * Throws when a completion id appears twice.
 */
export function expandRankingToPairs(
  ranking: string[][] | null,
  options: Omit<RankingAnswer, "ranking"> = {},
): PreferencePair[] {
  if (options.skipped || options.allBad || !ranking) return [];
  const seen = new Set<string>();
  for (const group of ranking) {
    for (const id of group) {
      if (seen.has(id)) throw new Error(`ranking lists completion ${id} twice`);
      seen.add(id);
    }
  }
  const margin = options.strength ?? undefined;
  const pairs: PreferencePair[] = [];
  for (let better = 0; better < ranking.length; better++) {
    for (let worse = better + 1; worse < ranking.length; worse++) {
      for (const chosen of ranking[better]!) {
        for (const rejected of ranking[worse]!) {
          pairs.push(margin === undefined ? { chosen, rejected } : { chosen, rejected, margin });
        }
      }
    }
  }
  return pairs;
}
