/**
 * A leaderboard of the models (completion sources) from the pairwise outcomes of the rankings, as
 * Chatbot Arena rates its models: a Bradley–Terry model fitted by maximum likelihood (ties count half a
 * win to each side, "all bad" is a tie), ratings on the Elo scale (400 · log10 strength, centred on
 * 1000), and 95% intervals from bootstrap rounds that resample the battles.
 */
import { sql } from "drizzle-orm";
import type { Db } from "../db/open";
import { mulberry32 } from "../random";

/** One comparison of two models: 1 = `a` won, 0 = `b` won, 0.5 = tie. */
export interface Battle {
  a: string;
  b: string;
  outcome: 0 | 0.5 | 1;
}

export interface Rating {
  model: string;
  rating: number;
  /** 2.5% and 97.5% quantiles of the bootstrap ratings. */
  lower: number;
  upper: number;
  battles: number;
  wins: number;
  losses: number;
  ties: number;
}

/**
 * Bradley–Terry strengths by the minorisation–maximisation iteration of Hunter (2004), with every model
 * also credited one tied game against a reference of strength 1 (a weak prior that keeps a model that
 * never lost, or never won, finite). Returns ratings 1000 + 400·log10(p), centred on a mean of 1000.
 */
export function bradleyTerry(models: string[], battles: Battle[], iterations = 200): Map<string, number> {
  const index = new Map(models.map((m, i) => [m, i]));
  const M = models.length;
  const wins = new Array<number>(M).fill(0);
  const games = Array.from({ length: M }, () => new Array<number>(M).fill(0));
  for (const { a, b, outcome } of battles) {
    const i = index.get(a)!;
    const j = index.get(b)!;
    wins[i]! += outcome;
    wins[j]! += 1 - outcome;
    games[i]![j]! += 1;
    games[j]![i]! += 1;
  }
  let p = new Array<number>(M).fill(1);
  for (let it = 0; it < iterations; it++) {
    const next = p.map((pi, i) => {
      let denominator = 1 / (pi + 1); // the prior game against the reference
      for (let j = 0; j < M; j++) if (games[i]![j]! > 0) denominator += games[i]![j]! / (pi + p[j]!);
      return (wins[i]! + 0.5) / denominator;
    });
    const change = Math.max(...next.map((v, i) => Math.abs(Math.log(v / p[i]!))));
    p = next;
    if (change < 1e-9) break;
  }
  const logs = p.map((v) => 400 * Math.log10(v));
  const mean = logs.reduce((a, b) => a + b, 0) / M;
  return new Map(models.map((m, i) => [m, 1000 + logs[i]! - mean]));
}

/** Ratings with bootstrap intervals (`rounds` resamplings of the battles, seeded), best first. */
export function leaderboardOf(battles: Battle[], options: { rounds?: number; seed?: number } = {}): Rating[] {
  const rounds = options.rounds ?? 100;
  const models = [...new Set(battles.flatMap((b) => [b.a, b.b]))].sort();
  if (models.length < 2) return [];
  const point = bradleyTerry(models, battles);
  const random = mulberry32(options.seed ?? 42);
  const samples = new Map(models.map((m) => [m, [] as number[]]));
  for (let r = 0; r < rounds; r++) {
    const resampled = battles.map(() => battles[Math.floor(random() * battles.length)]!);
    const ratings = bradleyTerry(models, resampled, 100);
    for (const m of models) samples.get(m)!.push(ratings.get(m)!);
  }
  const quantile = (sorted: number[], q: number) => {
    const pos = (sorted.length - 1) * q;
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
  };
  return models
    .map((model) => {
      const sorted = samples.get(model)!.sort((a, b) => a - b);
      let wins = 0;
      let losses = 0;
      let ties = 0;
      let count = 0;
      for (const b of battles) {
        if (b.a !== model && b.b !== model) continue;
        count++;
        const score = b.a === model ? b.outcome : 1 - b.outcome;
        if (score === 1) wins++;
        else if (score === 0) losses++;
        else ties++;
      }
      return {
        model,
        rating: point.get(model)!,
        lower: rounds > 0 ? quantile(sorted, 0.025) : point.get(model)!,
        upper: rounds > 0 ? quantile(sorted, 0.975) : point.get(model)!,
        battles: count,
        wins,
        losses,
        ties,
      };
    })
    .sort((x, y) => y.rating - x.rating);
}

/**
 * The battles a dataset's rankings imply between completions of different sources: each pair of a
 * ranking's completions is one battle (tied groups and "all bad" answers are ties); skips give none.
 */
export async function datasetBattles(db: Db, datasetId: string): Promise<Battle[]> {
  const { rows } = await db.execute<{
    task_id: string;
    ranking: string[][] | null;
    all_bad: boolean;
    sources: Record<string, string>;
  }>(sql`
    select r.task_id, r.ranking, r.all_bad,
      (select jsonb_object_agg(c.id, c.source) from task_completions tc join completions c on c.id = tc.completion_id
        where tc.task_id = r.task_id) as sources
    from rankings r join comparison_tasks t on t.id = r.task_id
    where t.dataset_id = ${datasetId} and not r.skipped
    order by r.task_id, r.id`);
  const battles: Battle[] = [];
  for (const row of rows) {
    const sources = row.sources ?? {};
    const groups = row.all_bad || !row.ranking ? [Object.keys(sources)] : row.ranking;
    const rank = new Map<string, number>();
    groups.forEach((group, g) => {
      for (const id of group) rank.set(id, g);
    });
    const ids = [...rank.keys()].sort();
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        const [x, y] = [ids[i]!, ids[j]!];
        const [a, b] = [sources[x], sources[y]];
        if (!a || !b || a === b) continue;
        const rx = rank.get(x)!;
        const ry = rank.get(y)!;
        battles.push({ a, b, outcome: rx < ry ? 1 : rx > ry ? 0 : 0.5 });
      }
    }
  }
  return battles;
}

export async function datasetLeaderboard(
  db: Db,
  datasetId: string,
  options: { rounds?: number; seed?: number } = {},
): Promise<Rating[]> {
  return leaderboardOf(await datasetBattles(db, datasetId), options);
}
