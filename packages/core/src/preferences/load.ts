/**
 * Preference data for training, read from the rankings of comparison tasks. One `RankingGroup` per
 * ranking keeps a prompt's completions together with the pairs their ranking implies — the InstructGPT
 * grouping, where a reward model scores each completion once and takes the loss over all its pairs —
 * and `preferencePairs` flattens groups into TRL's plain {prompt, chosen, rejected} rows for DPO and
 * export.
 */

import { and, asc, eq, inArray } from "drizzle-orm";
import type { Db } from "../db/open";
import { comparisonTasks, completions, datasets, rankings, taskCompletions } from "../db/schema";
import { hashSeed } from "../random";
import { expandRankingToPairs } from "./pairs";
import { ORACLE_USER_ID } from "./tasks";

export type PreferenceSplit = "train" | "eval";

export interface RankingGroup {
  rankingId: string;
  taskId: string;
  /** Name of the dataset the task belongs to. */
  dataset: string;
  annotatorId: string;
  prompt: string;
  /** The completions the ranking orders, in the task's display order. */
  completions: { id: string; response: string }[];
  /** [chosen, rejected] as indices into `completions`, in ranking order. */
  pairs: [number, number][];
  /** The annotator's strength (1 = slightly, 2 = much better), or null. */
  strength: number | null;
  /** The task's split (see `taskSplit`); all rankings of one prompt share it. */
  split: PreferenceSplit;
}

export interface LoadRankingGroupsOptions {
  /** Only tasks of this split (default: both). */
  split?: PreferenceSplit;
  /** Share of tasks held out for evaluation when a task's metadata names no split (default 0.1). */
  evalFraction?: number;
  /** Only rankings by these annotators (user ids; default: everyone's). */
  annotators?: string[];
}

/** A key (a task's prompt) hashed to [0, 1): a split that never changes as a dataset grows. */
export function taskHash(key: string): number {
  return hashSeed(0, key) / 4294967296;
}

/**
 * A task's split: `metadata.split` when it says "train" or "eval" (e.g. the demo's held-out prompts),
 * otherwise by hashing the task's prompt — so every task and ranking of one prompt lands on the same side
 * (several rounds of tasks for a prompt never put it in training and in the held-out set at once), and the
 * same data is split the same way in every database.
 */
export function taskSplit(
  prompt: string,
  metadata: Record<string, unknown> | null | undefined,
  evalFraction: number,
): PreferenceSplit {
  const stated = metadata?.split;
  if (stated === "train" || stated === "eval") return stated;
  return taskHash(prompt) < evalFraction ? "eval" : "train";
}

/**
 * Items into train and held-out lists by their task's split. With nothing held out but more than one
 * prompt, the prompt with the smallest hash is held out, so that a small dataset still gets an evaluation.
 */
export function splitByTask<T extends { prompt: string; split: PreferenceSplit }>(
  items: T[],
): { train: T[]; held: T[] } {
  let held = items.filter((i) => i.split === "eval");
  let train = items.filter((i) => i.split !== "eval");
  const prompts = [...new Set(train.map((i) => i.prompt))];
  if (held.length === 0 && prompts.length > 1) {
    const chosen = prompts.reduce((a, b) => (taskHash(b) < taskHash(a) ? b : a));
    held = train.filter((i) => i.prompt === chosen);
    train = train.filter((i) => i.prompt !== chosen);
  }
  return { train, held };
}

/**
 * Where a training set's rankings come from, for the run log: per dataset, its rankings and annotators,
 * with the demo's oracle told apart from people, e.g. `demo-preferences: 27 rankings by the oracle;
 * team-prefs: 40 rankings by 3 people`.
 */
export function describeRankingSources(groups: Pick<RankingGroup, "dataset" | "annotatorId">[]): string {
  const byDataset = new Map<string, { rankings: number; people: Set<string>; oracle: number }>();
  for (const g of groups) {
    const entry = byDataset.get(g.dataset) ?? { rankings: 0, people: new Set<string>(), oracle: 0 };
    entry.rankings += 1;
    if (g.annotatorId === ORACLE_USER_ID) entry.oracle += 1;
    else entry.people.add(g.annotatorId);
    byDataset.set(g.dataset, entry);
  }
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  return [...byDataset]
    .map(([name, e]) => {
      const who = [
        e.oracle > 0 ? `${e.oracle} by the oracle` : "",
        e.people.size > 0
          ? `${e.rankings - e.oracle} by ${e.people.size === 1 ? "1 person" : `${e.people.size} people`}`
          : "",
      ].filter(Boolean);
      return `${name}: ${plural(e.rankings, "ranking")} (${who.join(", ")})`;
    })
    .join("; ");
}

/** The datasets by name, checked to exist and to hold preferences; errors list what does exist. */
export async function preferenceDatasets(db: Db, names: string[]): Promise<{ id: string; name: string }[]> {
  const rows = await db
    .select({ id: datasets.id, name: datasets.name, kind: datasets.kind })
    .from(datasets)
    .where(inArray(datasets.name, names));
  for (const name of names) {
    const row = rows.find((r) => r.name === name);
    if (!row) {
      const known = await db
        .select({ name: datasets.name })
        .from(datasets)
        .where(eq(datasets.kind, "preferences"));
      throw new Error(
        `preference dataset "${name}" does not exist; preference datasets: ${known.map((k) => k.name).join(", ") || "none"}`,
      );
    }
    if (row.kind !== "preferences") {
      throw new Error(
        `dataset "${name}" is of kind ${row.kind}; rankings live in datasets of kind preferences`,
      );
    }
  }
  return rows.map(({ id, name }) => ({ id, name }));
}

/**
 * One group per ranking of the datasets' tasks that implies at least one pair (skipped, "all bad" and
 * all-tied answers imply none), in a stable order: by task, then by ranking. Throws when a ranking names
 * a completion that is not one of its task's.
 */
export async function loadRankingGroups(
  db: Db,
  datasetNames: string[],
  options: LoadRankingGroupsOptions = {},
): Promise<RankingGroup[]> {
  const evalFraction = options.evalFraction ?? 0.1;
  const found = await preferenceDatasets(db, datasetNames);
  const datasetIds = found.map((d) => d.id);
  const nameOf = new Map(found.map((d) => [d.id, d.name]));

  const rows = await db
    .select({
      rankingId: rankings.id,
      taskId: rankings.taskId,
      annotatorId: rankings.annotatorId,
      ranking: rankings.ranking,
      skipped: rankings.skipped,
      allBad: rankings.allBad,
      strength: rankings.strength,
      prompt: comparisonTasks.prompt,
      taskMetadata: comparisonTasks.metadata,
      datasetId: comparisonTasks.datasetId,
      taskCreatedAt: comparisonTasks.createdAt,
      rankedAt: rankings.createdAt,
    })
    .from(rankings)
    .innerJoin(comparisonTasks, eq(comparisonTasks.id, rankings.taskId))
    .where(
      and(
        inArray(comparisonTasks.datasetId, datasetIds),
        eq(rankings.skipped, false),
        eq(rankings.allBad, false),
        options.annotators ? inArray(rankings.annotatorId, options.annotators) : undefined,
      ),
    )
    .orderBy(
      asc(comparisonTasks.createdAt),
      asc(comparisonTasks.id),
      asc(rankings.createdAt),
      asc(rankings.id),
    );

  const members = await db
    .select({
      taskId: taskCompletions.taskId,
      completionId: completions.id,
      response: completions.response,
    })
    .from(taskCompletions)
    .innerJoin(comparisonTasks, eq(comparisonTasks.id, taskCompletions.taskId))
    .innerJoin(completions, eq(completions.id, taskCompletions.completionId))
    .where(inArray(comparisonTasks.datasetId, datasetIds))
    .orderBy(asc(taskCompletions.taskId), asc(taskCompletions.position));
  const completionsOf = new Map<string, { id: string; response: string }[]>();
  for (const m of members) {
    const list = completionsOf.get(m.taskId) ?? [];
    list.push({ id: m.completionId, response: m.response });
    completionsOf.set(m.taskId, list);
  }

  const groups: RankingGroup[] = [];
  const sortKeys = new Map<RankingGroup, (string | number)[]>();
  for (const row of rows) {
    const split = taskSplit(row.prompt, row.taskMetadata, evalFraction);
    if (options.split && split !== options.split) continue;
    const pairs = expandRankingToPairs(row.ranking, { strength: row.strength });
    if (pairs.length === 0) continue;
    const taskCompletionList = completionsOf.get(row.taskId) ?? [];
    const ranked = new Set(row.ranking!.flat());
    for (const id of ranked) {
      if (!taskCompletionList.some((c) => c.id === id)) {
        throw new Error(
          `ranking ${row.rankingId} of task ${row.taskId} orders completion ${id}, which is not one of the task's completions`,
        );
      }
    }
    const ordered = taskCompletionList.filter((c) => ranked.has(c.id));
    const index = new Map(ordered.map((c, i) => [c.id, i]));
    groups.push({
      rankingId: row.rankingId,
      taskId: row.taskId,
      dataset: nameOf.get(row.datasetId)!,
      annotatorId: row.annotatorId,
      prompt: row.prompt,
      completions: ordered,
      pairs: pairs.map((p) => [index.get(p.chosen)!, index.get(p.rejected)!]),
      strength: row.strength,
      split,
    });
    sortKeys.set(groups.at(-1)!, [
      row.taskCreatedAt.getTime(),
      row.prompt,
      ordered.map((c) => c.response).join("\u0000"),
      row.annotatorId,
      row.rankedAt.getTime(),
    ]);
  }
  // Tasks written in one transaction share a timestamp and their ids are random: order them by what they
  // hold, so the same data trains in the same order (and the same seed gives the same model) everywhere.
  return groups.sort((a, b) => {
    const ka = sortKeys.get(a)!;
    const kb = sortKeys.get(b)!;
    for (let i = 0; i < ka.length; i++) {
      if (ka[i]! < kb[i]!) return -1;
      if (ka[i]! > kb[i]!) return 1;
    }
    return 0;
  });
}

/** A preference in TRL's plain format (the `margin` column is what TRL's reward trainer reads). */
export interface PlainPreference {
  prompt: string;
  chosen: string;
  rejected: string;
  margin?: number;
}

/** Groups flattened to one row per pair; with `margin`, the annotator's strength where there is one. */
export function preferencePairs(
  groups: RankingGroup[],
  options: { margin?: boolean } = {},
): PlainPreference[] {
  const rows: PlainPreference[] = [];
  for (const group of groups) {
    for (const [c, r] of group.pairs) {
      const row: PlainPreference = {
        prompt: group.prompt,
        chosen: group.completions[c]!.response,
        rejected: group.completions[r]!.response,
      };
      if (options.margin && group.strength != null) row.margin = group.strength;
      rows.push(row);
    }
  }
  return rows;
}
