/**
 * Gold tasks: tasks with a known answer mixed into a dataset. An annotator's accuracy is the share of the
 * response pairs that the gold answer orders strictly which they ordered the same way (a tie, or an
 * "all bad" answer, on such a pair counts as a miss).
 */
import { sql } from "drizzle-orm";
import type { Db } from "../db/open";
import { ranksOf } from "./agreement";

export interface GoldAccuracy {
  annotatorId: string;
  email: string;
  goldTasks: number;
  /** Strictly ordered gold pairs compared, and the share they got right. */
  pairs: number;
  accuracy: number | null;
}

/** Score one answer against the gold ranking: correct pairs of the pairs gold orders strictly. */
export function scoreAgainstGold(
  gold: string[][],
  answer: string[][] | null,
): { correct: number; pairs: number } {
  const g = ranksOf(gold);
  const a = answer ? ranksOf(answer) : new Map<string, number>();
  const ids = [...g.keys()].sort();
  let correct = 0;
  let pairs = 0;
  for (let i = 0; i < ids.length; i++) {
    for (let j = i + 1; j < ids.length; j++) {
      const sg = Math.sign(g.get(ids[i]!)! - g.get(ids[j]!)!);
      if (sg === 0) continue;
      pairs++;
      const ai = a.get(ids[i]!);
      const aj = a.get(ids[j]!);
      if (ai !== undefined && aj !== undefined && Math.sign(ai - aj) === sg) correct++;
    }
  }
  return { correct, pairs };
}

/** Per-annotator accuracy on a dataset's gold tasks (skips left out), most gold tasks first. */
export async function goldAccuracy(db: Db, datasetId: string): Promise<GoldAccuracy[]> {
  const { rows } = await db.execute<{
    annotator_id: string;
    email: string;
    gold: string[][];
    ranking: string[][] | null;
  }>(sql`
    select r.annotator_id, u.email, t.gold_ranking as gold, case when r.all_bad then null else r.ranking end as ranking
    from rankings r join comparison_tasks t on t.id = r.task_id join users u on u.id = r.annotator_id
    where t.dataset_id = ${datasetId} and t.gold_ranking is not null and not r.skipped`);
  const byAnnotator = new Map<string, GoldAccuracy & { correct: number }>();
  for (const row of rows) {
    const entry = byAnnotator.get(row.annotator_id) ?? {
      annotatorId: row.annotator_id,
      email: row.email,
      goldTasks: 0,
      pairs: 0,
      correct: 0,
      accuracy: null,
    };
    const score = scoreAgainstGold(row.gold, row.ranking);
    entry.goldTasks++;
    entry.pairs += score.pairs;
    entry.correct += score.correct;
    byAnnotator.set(row.annotator_id, entry);
  }
  return [...byAnnotator.values()]
    .map(({ correct, ...entry }) => ({ ...entry, accuracy: entry.pairs > 0 ? correct / entry.pairs : null }))
    .sort((x, y) => y.goldTasks - x.goldTasks || x.email.localeCompare(y.email));
}
