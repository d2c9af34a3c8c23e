/**
 * Agreement between annotators on the tasks several of them ranked: how often two annotators order a
 * pair of responses the same way, and Krippendorff's alpha with the ordinal metric over the ranks they
 * gave each response (Krippendorff, "Computing Krippendorff's Alpha-Reliability", 2011).
 */
import { sql } from "drizzle-orm";
import type { Db } from "../db/open";

export type AlphaMetric = "nominal" | "ordinal" | "interval";

/**
 * Krippendorff's alpha. `units` holds, per unit, the values the coders gave it (missing values left out);
 * units with fewer than two values are not pairable and are ignored. Returns null when nothing can be
 * compared or all values are the same (no expected disagreement).
 */
export function krippendorffAlpha(units: number[][], metric: AlphaMetric = "ordinal"): number | null {
  const pairable = units.filter((u) => u.length >= 2);
  if (pairable.length === 0) return null;
  const values = [...new Set(pairable.flat())].sort((a, b) => a - b);
  const index = new Map(values.map((v, i) => [v, i]));
  const V = values.length;

  // Coincidence matrix: each ordered pair of values within a unit, weighted 1 / (m_u − 1).
  const o = Array.from({ length: V }, () => new Array<number>(V).fill(0));
  for (const unit of pairable) {
    const weight = 1 / (unit.length - 1);
    for (let i = 0; i < unit.length; i++) {
      for (let j = 0; j < unit.length; j++) {
        if (i !== j) o[index.get(unit[i]!)!]![index.get(unit[j]!)!]! += weight;
      }
    }
  }
  const nc = o.map((row) => row.reduce((a, b) => a + b, 0));
  const n = nc.reduce((a, b) => a + b, 0);

  const delta2 = (c: number, k: number): number => {
    if (metric === "nominal") return c === k ? 0 : 1;
    if (metric === "interval") return (values[c]! - values[k]!) ** 2;
    // Ordinal: the marginal mass between the two ranks, the ends counted half.
    const [lo, hi] = c <= k ? [c, k] : [k, c];
    let sum = 0;
    for (let g = lo; g <= hi; g++) sum += nc[g]!;
    return (sum - (nc[c]! + nc[k]!) / 2) ** 2;
  };

  let observed = 0;
  let expected = 0;
  for (let c = 0; c < V; c++) {
    for (let k = 0; k < V; k++) {
      const d = delta2(c, k);
      observed += o[c]![k]! * d;
      expected += nc[c]! * nc[k]! * d;
    }
  }
  observed /= n;
  expected /= n * (n - 1);
  if (expected === 0) return null;
  return 1 - observed / expected;
}

/** The rank (1 = best) a ranking gives each completion; tied completions share their group's rank. */
export function ranksOf(ranking: string[][]): Map<string, number> {
  const ranks = new Map<string, number>();
  ranking.forEach((group, g) => {
    for (const id of group) ranks.set(id, g + 1);
  });
  return ranks;
}

/**
 * How often two rankings of the same completions order a pair of them the same way (better, worse or
 * tied): agreed pairs and compared pairs.
 */
export function pairAgreement(a: string[][], b: string[][]): { agreed: number; pairs: number } {
  const ra = ranksOf(a);
  const rb = ranksOf(b);
  const ids = [...ra.keys()].filter((id) => rb.has(id)).sort();
  let agreed = 0;
  let pairs = 0;
  for (let i = 0; i < ids.length; i++) {
    for (let j = i + 1; j < ids.length; j++) {
      const sa = Math.sign(ra.get(ids[i]!)! - ra.get(ids[j]!)!);
      const sb = Math.sign(rb.get(ids[i]!)! - rb.get(ids[j]!)!);
      pairs++;
      if (sa === sb) agreed++;
    }
  }
  return { agreed, pairs };
}

export interface AgreementReport {
  /** Tasks with at least two rankings (the overlap agreement is measured on). */
  overlappingTasks: number;
  /** Share of (annotator pair, response pair) comparisons where both ordered the pair the same way. */
  pairwiseAgreement: number | null;
  /** Krippendorff's alpha, ordinal, over the rank each annotator gave each response of each task. */
  alpha: number | null;
  /** Per pair of annotators with overlap, their agreement. */
  byPair: { a: string; b: string; tasks: number; agreement: number }[];
}

/** Agreement in a dataset from its rankings (skips and "all bad" answers order nothing and are left out). */
export async function datasetAgreement(db: Db, datasetId: string): Promise<AgreementReport> {
  const { rows } = await db.execute<{ task_id: string; annotator: string; ranking: string[][] }>(sql`
    select r.task_id, coalesce(u.email, r.annotator_id) as annotator, r.ranking
    from rankings r join comparison_tasks t on t.id = r.task_id left join users u on u.id = r.annotator_id
    where t.dataset_id = ${datasetId} and not r.skipped and not r.all_bad and r.ranking is not null
    order by r.task_id, annotator`);
  return agreementOf(rows.map((r) => ({ taskId: r.task_id, annotator: r.annotator, ranking: r.ranking })));
}

/** Agreement from rankings in memory (what datasetAgreement computes, testable without a database). */
export function agreementOf(
  rankings: { taskId: string; annotator: string; ranking: string[][] }[],
): AgreementReport {
  const byTask = new Map<string, { annotator: string; ranking: string[][] }[]>();
  for (const r of rankings) {
    const list = byTask.get(r.taskId) ?? [];
    list.push(r);
    byTask.set(r.taskId, list);
  }
  const units: number[][] = [];
  let agreed = 0;
  let pairs = 0;
  let overlapping = 0;
  const byPair = new Map<string, { a: string; b: string; tasks: number; agreed: number; pairs: number }>();
  for (const list of byTask.values()) {
    if (list.length < 2) continue;
    overlapping++;
    const ranks = list.map((r) => ranksOf(r.ranking));
    for (const id of ranks[0]!.keys()) units.push(ranks.map((m) => m.get(id)).filter((v) => v !== undefined));
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const result = pairAgreement(list[i]!.ranking, list[j]!.ranking);
        agreed += result.agreed;
        pairs += result.pairs;
        const [a, b] = [list[i]!.annotator, list[j]!.annotator].sort() as [string, string];
        const key = `${a}\u0000${b}`;
        const entry = byPair.get(key) ?? { a, b, tasks: 0, agreed: 0, pairs: 0 };
        entry.tasks++;
        entry.agreed += result.agreed;
        entry.pairs += result.pairs;
        byPair.set(key, entry);
      }
    }
  }
  return {
    overlappingTasks: overlapping,
    pairwiseAgreement: pairs > 0 ? agreed / pairs : null,
    alpha: krippendorffAlpha(units, "ordinal"),
    byPair: [...byPair.values()]
      .filter((p) => p.pairs > 0)
      .map((p) => ({ a: p.a, b: p.b, tasks: p.tasks, agreement: p.agreed / p.pairs }))
      .sort((x, y) => y.tasks - x.tasks || x.a.localeCompare(y.a)),
  };
}
