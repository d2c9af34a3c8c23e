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
import { clientOf, inTransaction, type Queryable, rowsOf, statement } from "./statements";

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
const completionsOf = (taskId: string) => `(
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
  const held = await heldTask(clientOf(db), options);
  if (held.task !== undefined) return held.task;
  const leased = await inTransaction(db, (client) => leaseTask(client, options, held.first));
  return leased && handedOut(leased, leased.completions, new Date(leased.expires_at));
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
  const held = await heldTask(client, options);
  if (held.task !== undefined) return held.task;
  const leased = await leaseTask(client, options, held.first);
  return leased && handedOut(leased, leased.completions, new Date(leased.expires_at));
}

// $1 annotator, $2 dataset, $3 half the lease (seconds): a lease with more left than that is "fresh".
const heldTaskStatement = statement(
  "held_task",
  `select (d.metadata->>'goldTasks')::int as gold_tasks, (d.metadata->>'goldFraction')::float8 as fraction,
    h.id, h.dataset_id, h.prompt, h.expires_at, h.fresh, ${completionsOf("h.id")} as completions
  from datasets d
  left join lateral (
    select t.id, t.dataset_id, t.prompt, l.expires_at,
      l.expires_at > now() + make_interval(secs => $3::float8) as fresh
    from task_leases l join comparison_tasks t on t.id = l.task_id
    where l.annotator_id = $1 and t.dataset_id = d.id and l.expires_at > now()
      and (t.gold_ranking is not null or t.ranking_count < t.required_rankings)
      and not exists (select 1 from rankings r where r.task_id = t.id and r.annotator_id = $1)
    order by l.expires_at desc
    limit 1
  ) h on true
  where d.id = $2`,
);

const renewLease = statement(
  "renew_lease",
  `update task_leases set expires_at = now() + make_interval(secs => $3::float8)
  where task_id = $1 and annotator_id = $2 returning expires_at`,
);

/**
 * 1. A task they already hold (a reload, or a task given back by undo) comes back first; read with the
 * dataset's gold settings in one statement. `task` is set when that settles it (the held task, or null
 * for a dataset that does not exist).
 */
async function heldTask(
  client: Queryable,
  options: NextTaskOptions,
): Promise<{ task?: TaskForAnnotator | null; first: FirstRow }> {
  const { annotatorId, datasetId } = options;
  const leaseSeconds = options.leaseSeconds ?? LEASE_SECONDS;
  const [first] = await rowsOf<FirstRow>(client, heldTaskStatement, [
    annotatorId,
    datasetId,
    leaseSeconds / 2,
  ]);
  if (!first)
    return {
      task: null,
      first: { gold_tasks: null, fraction: null, expires_at: null, fresh: null, completions: null },
    };
  if (first.id) {
    const held = first as TaskRow;
    // Soon after it was handed out the lease is still long: leave it (no write, no commit to wait for).
    if (first.fresh) return { task: handedOut(held, first.completions, new Date(first.expires_at!)), first };
    const [renewed] = await rowsOf<{ expires_at: Date }>(client, renewLease, [
      held.id,
      annotatorId,
      leaseSeconds,
    ]);
    if (renewed) return { task: handedOut(held, first.completions, new Date(renewed.expires_at)), first };
  }
  return { first };
}

// $1 dataset, $2 annotator, $3 lease seconds.
const goldLease = statement(
  "gold_lease",
  `with gold as (
    select t.id, t.dataset_id, t.prompt
    from comparison_tasks t
    where t.dataset_id = $1 and t.gold_ranking is not null
      and not exists (select 1 from rankings r where r.task_id = t.id and r.annotator_id = $2)
    order by md5(t.id::text || $2)
    limit 1
  ),
  lease as (
    insert into task_leases (task_id, annotator_id, expires_at)
    select id, $2, now() + make_interval(secs => $3::float8) from gold
    on conflict (task_id, annotator_id) do update set expires_at = excluded.expires_at
    returning expires_at
  )
  select gold.*, lease.expires_at, ${completionsOf("gold.id")} as completions from gold, lease`,
);

// $1 dataset, $2 annotator.
const openCandidates = statement(
  "open_candidates",
  `select t.id, t.dataset_id, t.prompt
  from comparison_tasks t
  where t.dataset_id = $1 and t.gold_ranking is null
    and t.ranking_count < t.required_rankings
    and not exists (select 1 from rankings r where r.task_id = t.id and r.annotator_id = $2)
    and t.ranking_count + (select count(*) from task_leases l
      where l.task_id = t.id and l.expires_at > now() and l.annotator_id <> $2)
      < t.required_rankings
  limit 8
  for update of t skip locked`,
);

// $1 candidate ids in order, $2 annotator, $3 lease seconds.
const leaseFirstFree = statement(
  "lease_first_free",
  `with lease as (
    insert into task_leases (task_id, annotator_id, expires_at)
    select t.id, $2, now() + make_interval(secs => $3::float8)
    from comparison_tasks t
    where t.id = any($1::uuid[])
      and t.ranking_count + (select count(*) from task_leases l
        where l.task_id = t.id and l.expires_at > now() and l.annotator_id <> $2)
        < t.required_rankings
    order by array_position($1::uuid[], t.id)
    limit 1
    on conflict (task_id, annotator_id) do update set expires_at = excluded.expires_at
    returning task_id, expires_at
  )
  select lease.task_id, lease.expires_at, ${completionsOf("lease.task_id")} as completions from lease`,
);

const sweepLeases = statement(
  "sweep_leases",
  `delete from task_leases where expires_at < now() - interval '1 hour'`,
);

/** 2. and 3.: a gold task now and then, else an open task, leased to the annotator on `client` (in a transaction). */
async function leaseTask(
  client: Queryable,
  options: NextTaskOptions,
  first: FirstRow,
): Promise<Leased | null> {
  const { annotatorId, datasetId } = options;
  const leaseSeconds = options.leaseSeconds ?? LEASE_SECONDS;
  const random = options.random ?? Math.random;
  // 2. Now and then a gold task they have not answered: gold tasks have no cap, everyone should see them.
  // The dataset says whether it has any (set on import), so datasets without them pay nothing here.
  if (first.gold_tasks && random() < (first.fraction ?? DEFAULT_GOLD_FRACTION)) {
    const [gold] = await rowsOf<Leased>(client, goldLease, [datasetId, annotatorId, leaseSeconds]);
    if (gold) return gold;
  }

  // 3. An open task: lock a few candidates nobody else is locking, then, in a fresh statement that sees
  // every lease committed before the locks were granted, take the first that still has a free slot.
  // No ORDER BY: the scan walks the partial index of open tasks (comparison_tasks_open_idx) in the order
  // they were added and stops at the first few that fit, instead of sorting every open task each time.
  const candidates = await rowsOf<TaskRow>(client, openCandidates, [datasetId, annotatorId]);
  if (candidates.length === 0) return null;
  const [lease] = await rowsOf<{ task_id: string; expires_at: Date; completions: Completion[] | null }>(
    client,
    leaseFirstFree,
    [candidates.map((c) => c.id), annotatorId, leaseSeconds],
  );
  if (!lease) return null;

  // Leases of annotators who walked away are never deleted by a submission: sweep old ones now and then.
  if (random() < 0.01) await rowsOf(client, sweepLeases, []);
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
