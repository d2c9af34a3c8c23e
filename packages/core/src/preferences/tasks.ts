/**
 * Writing preference data: comparison tasks (a prompt with 2..9 completions shown in a stored random
 * order) and rankings of them, plus the demo's oracle annotator, which ranks by AFINN sentiment.
 */
import { randomUUID } from "node:crypto";
import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import type { Db } from "../db/open";
import { comparisonTasks, completions, datasets, rankings, taskCompletions, users } from "../db/schema";
import { mulberry32 } from "../demo/generator";
import { oracleRanking } from "../demo/oracle";

/** Most completions a task may have: the positions 0..8 the labeler shows. */
export const MAX_TASK_COMPLETIONS = 9;

export interface NewComparisonTask {
  prompt: string;
  completions: {
    response: string;
    /** The model or person that wrote it: a model name, "human", or "run:<name>@<step>". */
    source: string;
    runId?: string;
    checkpointId?: string;
    metadata?: Record<string, unknown>;
  }[];
  /** Pin the task to a split (otherwise it is chosen by hashing the task id; see taskSplit). */
  split?: "train" | "eval";
  metadata?: Record<string, unknown>;
}

export interface CreatedTask {
  taskId: string;
  /** Ids of the task's completions, in the order they were given (not the display order). */
  completionIds: string[];
}

/**
 * Insert completions, tasks and their task_completions in one transaction. Each task's display order is
 * a seeded shuffle (of `seed` and the task's index in `tasks`), stored as positions so that analysis can
 * undo position bias. Required rankings come from the dataset.
 */
export async function createComparisonTasks(
  db: Db,
  datasetName: string,
  tasks: NewComparisonTask[],
  options: { seed: number },
): Promise<CreatedTask[]> {
  for (const [i, task] of tasks.entries()) {
    const k = task.completions.length;
    if (k < 2 || k > MAX_TASK_COMPLETIONS) {
      throw new Error(`task ${i} ("${task.prompt.slice(0, 40)}"): has ${k} completions; a task needs 2 to 9`);
    }
  }
  return db.transaction(async (tx) => {
    const [dataset] = await tx.select().from(datasets).where(eq(datasets.name, datasetName));
    if (!dataset) throw new Error(`preference dataset "${datasetName}" does not exist`);
    if (dataset.kind !== "preferences") {
      throw new Error(
        `dataset "${datasetName}" is of kind ${dataset.kind}; comparison tasks need kind preferences`,
      );
    }
    const created: CreatedTask[] = [];
    const completionRows: (typeof completions.$inferInsert)[] = [];
    const taskRows: (typeof comparisonTasks.$inferInsert)[] = [];
    const memberRows: (typeof taskCompletions.$inferInsert)[] = [];
    for (const [i, task] of tasks.entries()) {
      const taskId = randomUUID();
      const completionIds = task.completions.map(() => randomUUID());
      for (const [j, c] of task.completions.entries()) {
        completionRows.push({
          id: completionIds[j],
          prompt: task.prompt,
          response: c.response,
          source: c.source,
          runId: c.runId,
          checkpointId: c.checkpointId,
          metadata: c.metadata ?? {},
        });
      }
      taskRows.push({
        id: taskId,
        datasetId: dataset.id,
        prompt: task.prompt,
        requiredRankings: dataset.requiredRankings,
        metadata: { ...task.metadata, ...(task.split ? { split: task.split } : {}) },
      });
      const order = shuffled(
        completionIds,
        mulberry32(((options.seed >>> 0) ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0),
      );
      for (const [position, completionId] of order.entries())
        memberRows.push({ taskId, completionId, position });
      created.push({ taskId, completionIds });
    }
    const chunk = 500;
    for (let i = 0; i < completionRows.length; i += chunk)
      await tx.insert(completions).values(completionRows.slice(i, i + chunk));
    for (let i = 0; i < taskRows.length; i += chunk)
      await tx.insert(comparisonTasks).values(taskRows.slice(i, i + chunk));
    for (let i = 0; i < memberRows.length; i += chunk)
      await tx.insert(taskCompletions).values(memberRows.slice(i, i + chunk));
    return created;
  });
}

/** Fisher–Yates over a copy. */
function shuffled<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export interface RankingSubmission {
  taskId: string;
  /** Groups of completion ids, best first; every completion of the task exactly once. Null when skipped. */
  ranking?: string[][] | null;
  skipped?: boolean;
  allBad?: boolean;
  /** 1 = slightly better, 2 = much better. */
  strength?: 1 | 2 | null;
  flags?: Record<string, string[]>;
  note?: string;
  timeMs?: number;
}

/**
 * Store rankings by one annotator in one transaction and count them on their tasks. A task the annotator
 * ranked already keeps its first ranking (so re-running the oracle is a no-op). Throws, naming the task,
 * when a ranking does not order each of the task's completions exactly once.
 */
export async function recordRankings(
  db: Db,
  annotatorId: string,
  submissions: RankingSubmission[],
): Promise<{ recorded: number; alreadyRanked: number }> {
  if (submissions.length === 0) return { recorded: 0, alreadyRanked: 0 };
  return db.transaction(async (tx) => {
    const taskIds = [...new Set(submissions.map((s) => s.taskId))];
    const members = await tx
      .select({ taskId: taskCompletions.taskId, completionId: taskCompletions.completionId })
      .from(taskCompletions)
      .where(inArray(taskCompletions.taskId, taskIds));
    const completionsOf = new Map<string, Set<string>>();
    for (const m of members) {
      const set = completionsOf.get(m.taskId) ?? new Set<string>();
      set.add(m.completionId);
      completionsOf.set(m.taskId, set);
    }
    for (const s of submissions) {
      const expected = completionsOf.get(s.taskId);
      if (!expected) throw new Error(`task ${s.taskId} does not exist or has no completions`);
      if (s.skipped || s.allBad) continue;
      if (!s.ranking) throw new Error(`task ${s.taskId}: a ranking is required unless skipped or all bad`);
      const ranked = s.ranking.flat();
      const problem =
        ranked.length !== new Set(ranked).size
          ? "lists a completion twice"
          : ranked.some((id) => !expected.has(id))
            ? "names a completion that is not the task's"
            : ranked.length !== expected.size
              ? `orders ${ranked.length} of the task's ${expected.size} completions`
              : s.ranking.some((g) => g.length === 0)
                ? "has an empty group"
                : undefined;
      if (problem) throw new Error(`ranking of task ${s.taskId} ${problem}`);
    }
    const inserted = await tx
      .insert(rankings)
      .values(
        submissions.map((s) => ({
          taskId: s.taskId,
          annotatorId,
          ranking: s.skipped || s.allBad ? null : s.ranking!,
          skipped: s.skipped ?? false,
          allBad: s.allBad ?? false,
          strength: s.strength ?? null,
          flags: s.flags ?? {},
          note: s.note,
          timeMs: s.timeMs,
        })),
      )
      .onConflictDoNothing({ target: [rankings.taskId, rankings.annotatorId] })
      .returning({ taskId: rankings.taskId });
    const counted = new Map<string, number>();
    for (const r of inserted) counted.set(r.taskId, (counted.get(r.taskId) ?? 0) + 1);
    for (const [taskId, n] of counted) {
      await tx
        .update(comparisonTasks)
        .set({ rankingCount: sql`${comparisonTasks.rankingCount} + ${n}` })
        .where(eq(comparisonTasks.id, taskId));
    }
    return { recorded: inserted.length, alreadyRanked: submissions.length - inserted.length };
  });
}

export const ORACLE_USER_ID = "oracle";

/** The oracle's users row (an annotator whose rankings come from AFINN sentiment); idempotent. */
export async function ensureOracleUser(db: Db): Promise<string> {
  await db
    .insert(users)
    .values({
      id: ORACLE_USER_ID,
      name: "Sentiment oracle (AFINN)",
      email: "oracle@rlhf.invalid",
      role: "annotator",
    })
    .onConflictDoNothing({ target: users.id });
  return ORACLE_USER_ID;
}

/** Rank every task of the dataset the oracle has not ranked yet; returns how many it ranked. */
export async function rankWithOracle(db: Db, datasetName: string): Promise<number> {
  const annotatorId = await ensureOracleUser(db);
  const [dataset] = await db.select().from(datasets).where(eq(datasets.name, datasetName));
  if (!dataset) throw new Error(`preference dataset "${datasetName}" does not exist`);
  const open = await db
    .select({ taskId: taskCompletions.taskId, id: completions.id, response: completions.response })
    .from(taskCompletions)
    .innerJoin(comparisonTasks, eq(comparisonTasks.id, taskCompletions.taskId))
    .innerJoin(completions, eq(completions.id, taskCompletions.completionId))
    .leftJoin(
      rankings,
      and(eq(rankings.taskId, taskCompletions.taskId), eq(rankings.annotatorId, annotatorId)),
    )
    .where(and(eq(comparisonTasks.datasetId, dataset.id), isNull(rankings.id)));
  const byTask = new Map<string, { id: string; response: string }[]>();
  for (const row of open) {
    const list = byTask.get(row.taskId) ?? [];
    list.push({ id: row.id, response: row.response });
    byTask.set(row.taskId, list);
  }
  const taskIds = [...byTask.keys()].sort();
  const { recorded } = await recordRankings(
    db,
    annotatorId,
    taskIds.map((taskId) => ({ taskId, ranking: oracleRanking(byTask.get(taskId)!) })),
  );
  return recorded;
}
