/**
 * Handing out tasks. An annotator gets a task of the dataset that they have not answered, that still
 * needs rankings, and whose open slots are not all held by others' leases. The candidate rows are locked
 * with `FOR UPDATE SKIP LOCKED`, so annotators asking at the same time are handed different tasks rather
 * than queueing on one; the lease count is then read again *while holding the row lock* (a fresh
 * statement sees every lease committed before the lock was granted), so no two annotators are given the
 * last open slot. Submissions check the count again (./submit.ts), so a task never gets more rankings than
 * it requires even when a lease ran out. The steps run inside PostgreSQL, in the function
 * labeling_hand_out (drizzle/0007_labeling_hand_out.sql): one round trip per hand-out.
 */
import { sql } from "drizzle-orm";
import type { Db } from "../db/open";
import { clientOf, type Queryable, rowsOf, statement } from "./statements";

/** How long a handed-out task is held for its annotator: long enough to read and rank, short if abandoned. */
export const LEASE_SECONDS = 600;

/**
 * Share of tasks drawn from the gold tasks (dataset.metadata.goldFraction overrides it), in datasets whose
 * metadata counts gold tasks (`goldTasks`, kept by the import).
 */
export const DEFAULT_GOLD_FRACTION = 0.1;

export interface TaskForAnnotator {
  taskId: string;
  datasetId: string;
  prompt: string;
  /** In the task's stored display order (position 0 is shown as A). Who wrote them is not revealed. */
  completions: { id: string; position: number; response: string }[];
  leaseExpiresAt: Date;
}

type Completion = TaskForAnnotator["completions"][number];

export interface NextTaskOptions {
  annotatorId: string;
  datasetId: string;
  leaseSeconds?: number;
  /** A number in [0, 1) deciding whether to serve a gold task this time (tests fix it). */
  random?: () => number;
}

/** The task the annotator should rank next in a dataset, held for them; null when none is left for them. */
export async function nextTask(db: Db, options: NextTaskOptions): Promise<TaskForAnnotator | null> {
  // SKIP LOCKED passes over tasks that other annotators are being handed at this instant; when it found
  // nothing but open tasks exist, those hand-outs may leave a slot, so look again shortly.
  for (let attempt = 0; ; attempt++) {
    const task = await handOut(clientOf(db), options);
    if (task || attempt >= 4 || !(await hasOpenTask(db, options.annotatorId, options.datasetId))) return task;
    await new Promise((resolve) => setTimeout(resolve, 5 + 10 * attempt));
  }
}

const openTask = statement(
  "open_task",
  `select 1 from comparison_tasks t
  where t.dataset_id = $2 and t.gold_ranking is null and t.ranking_count < t.required_rankings
    and not exists (select 1 from rankings r where r.task_id = t.id and r.annotator_id = $1)
    and t.ranking_count + (select count(*) from task_leases l
      where l.task_id = t.id and l.expires_at > now() and l.annotator_id <> $1) < t.required_rankings
  limit 1`,
);

/** Whether a task of the dataset still needs rankings and is not answered by the annotator (no locks). */
async function hasOpenTask(db: Db, annotatorId: string, datasetId: string): Promise<boolean> {
  return (await rowsOf(clientOf(db), openTask, [annotatorId, datasetId])).length > 0;
}

/** What labeling_hand_out (migration 0007) answers: a task held for the annotator, or why there is none. */
type HandOut =
  | {
      status: "task";
      id: string;
      dataset_id: string;
      prompt: string;
      expires_at: string;
      completions: Completion[] | null;
    }
  | { status: "none" | "no_dataset" };

// $1 annotator, $2 dataset, $3 lease seconds, $4 the draw deciding a gold task, $5 the default gold share,
// $6 whether to sweep old leases.
const handOutStatement = statement(
  "hand_out",
  "select labeling_hand_out($1, $2, $3, $4, $5, $6) as hand_out",
);

/**
 * One try at the annotator's next task, in one statement (the database function labeling_hand_out, one
 * round trip): 1. a task they already hold (a reload, or a task given back by undo), its lease renewed
 * once less than half of it is left; 2. now and then a gold task, in datasets whose metadata counts gold
 * tasks; 3. an open task — a few candidates locked with SKIP LOCKED, then the first with a free slot
 * leased, counted in a fresh statement (see the header). On `client` inside a transaction it is part of
 * that transaction (an answer stored and the next task handed out in one commit); on the pool it commits
 * by itself. Null when none was found now.
 */
async function handOut(client: Queryable, options: NextTaskOptions): Promise<TaskForAnnotator | null> {
  const random = options.random ?? Math.random;
  const [row] = await rowsOf<{ hand_out: HandOut }>(client, handOutStatement, [
    options.annotatorId,
    options.datasetId,
    options.leaseSeconds ?? LEASE_SECONDS,
    random(),
    DEFAULT_GOLD_FRACTION,
    // Leases of annotators who walked away are never deleted by a submission: sweep old ones now and then.
    random() < 0.01,
  ]);
  const task = row!.hand_out;
  if (task.status !== "task") return null;
  return {
    taskId: task.id,
    datasetId: task.dataset_id,
    prompt: task.prompt,
    completions: task.completions ?? [],
    leaseExpiresAt: new Date(task.expires_at),
  };
}

/**
 * One try at the annotator's next task inside a transaction the caller holds on `client` (an answer
 * stored and the next task handed out in one commit): null when none was found now, without the waits of
 * `nextTask` for hand-outs under way elsewhere — the caller asks `nextTask` after committing in that case.
 */
export async function nextTaskInTransaction(
  client: Queryable,
  options: NextTaskOptions,
): Promise<TaskForAnnotator | null> {
  return handOut(client, options);
}

/** A task's completions in display order. */
export async function taskCompletionsInOrder(
  db: Db,
  taskId: string,
): Promise<{ id: string; position: number; response: string }[]> {
  const { rows } = await db.execute<{ id: string; position: number; response: string }>(sql`
    select c.id, tc.position, c.response
    from task_completions tc join completions c on c.id = tc.completion_id
    where tc.task_id = ${taskId}
    order by tc.position`);
  return rows;
}

/** Give back a held task without answering it (the annotator moves to another dataset, say). */
export async function releaseTask(db: Db, annotatorId: string, taskId: string): Promise<void> {
  await db.execute(sql`delete from task_leases where task_id = ${taskId} and annotator_id = ${annotatorId}`);
}
