/**
 * Handing out tasks. An annotator gets a task of the dataset that they have not answered, that still
 * needs rankings, and whose open slots are not all held by others' leases. The candidate rows are locked
 * with `FOR UPDATE SKIP LOCKED`, so annotators asking at the same time are handed different tasks rather
 * than queueing on one; the lease count is then read again *while holding the row lock* (a fresh
 * statement sees every lease committed before the lock was granted), so no two annotators are given the
 * last open slot. Submissions check the count again (./submit.ts), so a task never gets more rankings than
 * it requires even when a lease ran out.
 */
import { sql } from "drizzle-orm";
import type { Db } from "../db/open";

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

interface TaskRow extends Record<string, unknown> {
  id: string;
  dataset_id: string;
  prompt: string;
}

type Completion = TaskForAnnotator["completions"][number];

/**
 * A task's completions in display order, as one json column of the statement that hands the task out
 * (a round trip fewer than reading them afterwards).
 */
const completionsOf = (taskId: ReturnType<typeof sql.raw>) => sql`(
  select json_agg(json_build_object('id', c.id, 'position', tc.position, 'response', c.response) order by tc.position)
  from task_completions tc join completions c on c.id = tc.completion_id
  where tc.task_id = ${taskId})`;

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
    const task = await tryNextTask(db, options);
    if (task || attempt >= 4 || !(await hasOpenTask(db, options.annotatorId, options.datasetId))) return task;
    await new Promise((resolve) => setTimeout(resolve, 5 + 10 * attempt));
  }
}

/** Whether a task of the dataset still needs rankings and is not answered by the annotator (no locks). */
async function hasOpenTask(db: Db, annotatorId: string, datasetId: string): Promise<boolean> {
  const { rows } = await db.execute(sql`
    select 1 from comparison_tasks t
    where t.dataset_id = ${datasetId} and t.gold_ranking is null and t.ranking_count < t.required_rankings
      and not exists (select 1 from rankings r where r.task_id = t.id and r.annotator_id = ${annotatorId})
      and t.ranking_count + (select count(*) from task_leases l
        where l.task_id = t.id and l.expires_at > now() and l.annotator_id <> ${annotatorId}) < t.required_rankings
    limit 1`);
  return rows.length > 0;
}

/** A transaction of `db` (drizzle's), in which the hand-out may run as part of a bigger unit of work. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

type FirstRow = { gold_tasks: number | null; fraction: number | null } & Partial<TaskRow> & {
    expires_at: Date | null;
    fresh: boolean | null;
    completions: Completion[] | null;
  };

type Leased = TaskRow & { expires_at: Date; completions: Completion[] | null };

const handedOut = (
  task: TaskRow,
  completions: Completion[] | null,
  leaseExpiresAt: Date,
): TaskForAnnotator => ({
  taskId: task.id,
  datasetId: task.dataset_id,
  prompt: task.prompt,
  completions: completions ?? [],
  leaseExpiresAt,
});

async function tryNextTask(db: Db, options: NextTaskOptions): Promise<TaskForAnnotator | null> {
  const held = await heldTask(db, options);
  if (held.task !== undefined) return held.task;
  const leased = await db.transaction((tx) => leaseTask(tx, options, held.first));
  return leased && handedOut(leased, leased.completions, new Date(leased.expires_at));
}

/**
 * One try at the annotator's next task inside a transaction the caller holds (an answer stored and the
 * next task handed out in one commit): null when none was found now, without the waits of `nextTask`
 * for hand-outs under way elsewhere — the caller asks `nextTask` after committing in that case.
 */
export async function nextTaskInTransaction(
  tx: Tx,
  options: NextTaskOptions,
): Promise<TaskForAnnotator | null> {
  const held = await heldTask(tx, options);
  if (held.task !== undefined) return held.task;
  const leased = await leaseTask(tx, options, held.first);
  return leased && handedOut(leased, leased.completions, new Date(leased.expires_at));
}

/**
 * 1. A task they already hold (a reload, or a task given back by undo) comes back first; read with the
 * dataset's gold settings in one statement. `task` is set when that settles it (the held task, or null
 * for a dataset that does not exist).
 */
async function heldTask(
  db: Db | Tx,
  options: NextTaskOptions,
): Promise<{ task?: TaskForAnnotator | null; first: FirstRow }> {
  const { annotatorId, datasetId } = options;
  const leaseSeconds = options.leaseSeconds ?? LEASE_SECONDS;
  const { rows: firstRows } = await db.execute<FirstRow>(sql`
    select (d.metadata->>'goldTasks')::int as gold_tasks, (d.metadata->>'goldFraction')::float8 as fraction,
      h.id, h.dataset_id, h.prompt, h.expires_at, h.fresh, ${completionsOf(sql.raw("h.id"))} as completions
    from datasets d
    left join lateral (
      select t.id, t.dataset_id, t.prompt, l.expires_at,
        l.expires_at > now() + make_interval(secs => ${leaseSeconds / 2}) as fresh
      from task_leases l join comparison_tasks t on t.id = l.task_id
      where l.annotator_id = ${annotatorId} and t.dataset_id = d.id and l.expires_at > now()
        and (t.gold_ranking is not null or t.ranking_count < t.required_rankings)
        and not exists (select 1 from rankings r where r.task_id = t.id and r.annotator_id = ${annotatorId})
      order by l.expires_at desc
      limit 1
    ) h on true
    where d.id = ${datasetId}`);
  const first = firstRows[0];
  if (!first)
    return {
      task: null,
      first: { gold_tasks: null, fraction: null, expires_at: null, fresh: null, completions: null },
    };
  if (first.id) {
    const held = first as TaskRow;
    // Soon after it was handed out the lease is still long: leave it (no write, no commit to wait for).
    if (first.fresh) return { task: handedOut(held, first.completions, new Date(first.expires_at!)), first };
    const { rows } = await db.execute<{ expires_at: Date }>(sql`
      update task_leases set expires_at = now() + make_interval(secs => ${leaseSeconds})
      where task_id = ${held.id} and annotator_id = ${annotatorId} returning expires_at`);
    if (rows[0]) return { task: handedOut(held, first.completions, new Date(rows[0].expires_at)), first };
  }
  return { first };
}

/** 2. and 3.: a gold task now and then, else an open task, leased to the annotator in `tx`. */
async function leaseTask(tx: Tx, options: NextTaskOptions, first: FirstRow): Promise<Leased | null> {
  const { annotatorId, datasetId } = options;
  const leaseSeconds = options.leaseSeconds ?? LEASE_SECONDS;
  const random = options.random ?? Math.random;
  // 2. Now and then a gold task they have not answered: gold tasks have no cap, everyone should see them.
  // The dataset says whether it has any (set on import), so datasets without them pay nothing here.
  if (first.gold_tasks && random() < (first.fraction ?? DEFAULT_GOLD_FRACTION)) {
    const { rows } = await tx.execute<Leased>(sql`
      with gold as (
        select t.id, t.dataset_id, t.prompt
        from comparison_tasks t
        where t.dataset_id = ${datasetId} and t.gold_ranking is not null
          and not exists (select 1 from rankings r where r.task_id = t.id and r.annotator_id = ${annotatorId})
        order by md5(t.id::text || ${annotatorId})
        limit 1
      ),
      lease as (
        insert into task_leases (task_id, annotator_id, expires_at)
        select id, ${annotatorId}, now() + make_interval(secs => ${leaseSeconds}) from gold
        on conflict (task_id, annotator_id) do update set expires_at = excluded.expires_at
        returning expires_at
      )
      select gold.*, lease.expires_at, ${completionsOf(sql.raw("gold.id"))} as completions from gold, lease`);
    if (rows[0]) return rows[0];
  }

  // 3. An open task: lock a few candidates nobody else is locking, then, in a fresh statement that sees
  // every lease committed before the locks were granted, take the first that still has a free slot.
  // No ORDER BY: the scan walks the partial index of open tasks (comparison_tasks_open_idx) in the order
  // they were added and stops at the first few that fit, instead of sorting every open task each time.
  const { rows: candidates } = await tx.execute<TaskRow>(sql`
    select t.id, t.dataset_id, t.prompt
    from comparison_tasks t
    where t.dataset_id = ${datasetId} and t.gold_ranking is null
      and t.ranking_count < t.required_rankings
      and not exists (select 1 from rankings r where r.task_id = t.id and r.annotator_id = ${annotatorId})
      and t.ranking_count + (select count(*) from task_leases l
        where l.task_id = t.id and l.expires_at > now() and l.annotator_id <> ${annotatorId})
        < t.required_rankings
    limit 8
    for update of t skip locked`);
  if (candidates.length === 0) return null;
  const ids = sql`array[${sql.join(
    candidates.map((c) => sql`${c.id}::uuid`),
    sql`, `,
  )}]`;
  const { rows } = await tx.execute<{
    task_id: string;
    expires_at: Date;
    completions: Completion[] | null;
  }>(sql`
    with lease as (
    insert into task_leases (task_id, annotator_id, expires_at)
    select t.id, ${annotatorId}, now() + make_interval(secs => ${leaseSeconds})
    from comparison_tasks t
    where t.id = any(${ids})
      and t.ranking_count + (select count(*) from task_leases l
        where l.task_id = t.id and l.expires_at > now() and l.annotator_id <> ${annotatorId})
        < t.required_rankings
    order by array_position(${ids}, t.id)
    limit 1
    on conflict (task_id, annotator_id) do update set expires_at = excluded.expires_at
    returning task_id, expires_at
    )
    select lease.task_id, lease.expires_at, ${completionsOf(sql.raw("lease.task_id"))} as completions from lease`);
  const lease = rows[0];
  if (!lease) return null;

  // Leases of annotators who walked away are never deleted by a submission: sweep old ones now and then.
  if (random() < 0.01) {
    await tx.execute(sql`delete from task_leases where expires_at < now() - interval '1 hour'`);
  }
  return {
    ...candidates.find((c) => c.id === lease.task_id)!,
    expires_at: lease.expires_at,
    completions: lease.completions,
  };
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
