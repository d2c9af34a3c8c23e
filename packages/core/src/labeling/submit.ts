/**
 * Storing an annotator's answer. One transaction per submission, with the task row locked, so that:
 * a retry or a double click (same idempotency key) stores one ranking; a ranking that is not an
 * ordering of exactly the task's completions is refused with the reason; a task never gets more counted
 * rankings than it requires; and an acknowledged answer is committed before the reply leaves.
 * An annotator may change their own answer (the same row is updated) and undo a fresh one for a short while.
 */
import { sql } from "drizzle-orm";
import type { Db } from "../db/open";
import { nextTask, nextTaskInTransaction, type TaskForAnnotator } from "./distribution";
import { LabelingError } from "./errors";
import { type SubmitRankingInput, submitRankingSchema } from "./schemas";
import { inTransaction, type Queryable, rowsOf, statement } from "./statements";

/** How long after submitting an answer its annotator may take it back with U. */
export const UNDO_SECONDS = 60;

export interface SubmitResult {
  /** recorded: a new answer; updated: the annotator's earlier answer was changed; duplicate: a retry. */
  status: "recorded" | "updated" | "duplicate";
  rankingId: string;
  /** Who wrote each completion, revealed once the answer is in (as Chatbot Arena reveals model names). */
  sources: { completionId: string; position: number; source: string }[];
}

interface LockedTask extends Record<string, unknown> {
  id: string;
  required_rankings: number;
  ranking_count: number;
  is_gold: boolean;
}

/** Why a ranking is not an ordering of exactly the task's completions, or undefined when it is one. */
export function rankingProblem(ranking: string[][], completionIds: string[]): string | undefined {
  const expected = new Set(completionIds);
  const ranked = ranking.flat();
  const seen = new Set<string>();
  for (const id of ranked) {
    if (!expected.has(id)) return `names response ${id}, which is not one of this task's responses`;
    if (seen.has(id)) return `lists response ${id} twice`;
    seen.add(id);
  }
  if (ranking.some((group) => group.length === 0)) return "has an empty group";
  if (seen.size !== expected.size) {
    const missing = completionIds.filter((id) => !seen.has(id));
    return `leaves out ${missing.length} of the task's ${expected.size} responses (${missing.join(", ")}); rank every response`;
  }
  return undefined;
}

export interface SubmitOptions {
  /**
   * The caller is an admin: with `asAdmin` in the answer they may answer a task not handed to them. The
   * answer is stored under their own id, as anyone's is; nobody answers in another's name.
   */
  isAdmin?: boolean;
  /**
   * Also hand out the annotator's next task of this dataset, in the same transaction as the answer (one
   * commit instead of two, two round trips fewer): the reply's `next`.
   */
  nextIn?: string;
}

export type SubmitWithNextResult = SubmitResult & { next?: TaskForAnnotator | null };

/**
 * Store (or change) the annotator's answer to a task. Throws a LabelingError saying what is wrong.
 * Only the task's lease holder answers it (the lease may have run out, if nobody took the slot since: the
 * count check below still holds), or someone changing their own earlier answer, or an admin saying so
 * (`asAdmin`). Whose task it is is checked before anything about the answer, so a refusal never echoes
 * the contents (completion ids) of a task that is not the caller's.
 */
export async function submitRanking(
  db: Db,
  annotatorId: string,
  input: SubmitRankingInput,
  options: SubmitOptions = {},
): Promise<SubmitWithNextResult> {
  const parsed = submitRankingSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new LabelingError("BAD_REQUEST", `${issue.path.join(".") || "answer"}: ${issue.message}`);
  }
  const answer = parsed.data;
  const { nextIn } = options;
  // Five statements: begin, lock the task, read what the rules need, write, commit; with `nextIn`, the
  // hand-out's two or three before the commit.
  const { result, next } = await inTransaction(db, async (client) => {
    const result = await storeAnswer(client, annotatorId, answer, options);
    const next = nextIn ? await nextTaskInTransaction(client, { annotatorId, datasetId: nextIn }) : undefined;
    return { result, next };
  });
  if (!nextIn) return result;
  // None found at once (others are being handed the last open ones): nextTask waits for those to settle.
  return { ...result, next: next ?? (await nextTask(db, { annotatorId, datasetId: nextIn })) };
}

type ParsedAnswer = ReturnType<typeof submitRankingSchema.parse>;

// $1 task.
const lockTask = statement(
  "lock_task",
  `select id, required_rankings, ranking_count, gold_ranking is not null as is_gold
  from comparison_tasks where id = $1 for update`,
);

// $1 idempotency key, $2 task, $3 annotator.
const answerState = statement(
  "answer_state",
  `select
    (select json_build_object('id', id, 'task_id', task_id, 'annotator_id', annotator_id)
      from rankings where idempotency_key = $1) as by_key,
    (select json_build_object('id', id, 'skipped', skipped)
      from rankings where task_id = $2 and annotator_id = $3) as previous,
    exists (select 1 from task_leases where task_id = $2 and annotator_id = $3) as leased,
    (select json_agg(json_build_object('id', c.id, 'position', tc.position, 'source', c.source) order by tc.position)
      from task_completions tc join completions c on c.id = tc.completion_id
      where tc.task_id = $2) as members`,
);

// $1 task, $2 annotator, $3 ranking, $4 skipped, $5 all bad, $6 strength, $7 flags, $8 note, $9 time,
// $10 idempotency key, $11 change of the task's count.
const saveAnswer = statement(
  "save_answer",
  `with saved as (
    insert into rankings (task_id, annotator_id, ranking, skipped, all_bad, strength, flags, note, time_ms,
      idempotency_key)
    values ($1, $2, $3::jsonb, $4, $5, $6, $7::jsonb, $8, $9, $10)
    on conflict (task_id, annotator_id) do update set ranking = excluded.ranking, skipped = excluded.skipped,
      all_bad = excluded.all_bad, strength = excluded.strength, flags = excluded.flags, note = excluded.note,
      time_ms = excluded.time_ms, idempotency_key = excluded.idempotency_key, updated_at = now()
    returning id
  ),
  counted as (
    update comparison_tasks set ranking_count = ranking_count + $11::int
    where id = $1 and $11::int <> 0
  ),
  released as (
    delete from task_leases where task_id = $1 and annotator_id = $2
  )
  select id from saved`,
);

/** The answer's checks and its one write, on `client` (in a transaction), with the task's row locked. */
async function storeAnswer(
  client: Queryable,
  annotatorId: string,
  answer: ParsedAnswer,
  options: SubmitOptions,
): Promise<SubmitResult> {
  // 1. The task row lock orders concurrent submissions to one task (and a double click behind its twin).
  const [task] = await rowsOf<LockedTask>(client, lockTask, [answer.taskId]);
  if (!task) throw new LabelingError("NOT_FOUND", `task ${answer.taskId} does not exist`);

  // 2. Read after the lock is granted, so a twin committed while this one waited is seen.
  const [state] = await rowsOf<{
    by_key: { id: string; task_id: string; annotator_id: string } | null;
    previous: { id: string; skipped: boolean } | null;
    leased: boolean;
    members: { id: string; position: number; source: string }[];
  }>(client, answerState, [answer.idempotencyKey, answer.taskId, annotatorId]);
  const { by_key: byKey, previous, leased, members } = state!;
  const sources = (members ?? []).map((m) => ({
    completionId: m.id,
    position: m.position,
    source: m.source,
  }));
  if (byKey) {
    if (byKey.annotator_id !== annotatorId || byKey.task_id !== answer.taskId) {
      throw new LabelingError("CONFLICT", "this submission key was already used for another answer");
    }
    // A retry of an answer already stored: acknowledge it again, store nothing.
    return { status: "duplicate", rankingId: byKey.id, sources };
  }
  if (answer.asAdmin && !options.isAdmin) {
    throw new LabelingError("FORBIDDEN", "asAdmin: only an admin answers tasks not handed to them");
  }
  if (!leased && !previous && !answer.asAdmin) {
    throw new LabelingError(
      "FORBIDDEN",
      `task ${answer.taskId} is not held for you (it was handed to someone else, or never to you); take the next task`,
    );
  }
  const completionIds = sources.map((m) => m.completionId);

  let ranking: string[][] | null = null;
  if (!answer.skipped && !answer.allBad) {
    if (!answer.ranking) {
      throw new LabelingError("BAD_REQUEST", "ranking: order the responses, or skip, or mark them all bad");
    }
    const problem = rankingProblem(answer.ranking, completionIds);
    if (problem) throw new LabelingError("BAD_REQUEST", `ranking ${problem}`);
    ranking = answer.ranking;
  } else if (answer.ranking && answer.ranking.length > 0) {
    throw new LabelingError("BAD_REQUEST", "ranking: a skipped or all-bad answer orders nothing");
  }
  if (answer.strength != null && (ranking === null || completionIds.length !== 2 || ranking.length !== 2)) {
    throw new LabelingError("BAD_REQUEST", "strength: only a pairwise answer with a winner has a strength");
  }
  for (const [completionId, flags] of Object.entries(answer.flags)) {
    if (!completionIds.includes(completionId)) {
      throw new LabelingError(
        "BAD_REQUEST",
        `flags: response ${completionId} is not one of this task's responses`,
      );
    }
    if (new Set(flags).size !== flags.length) {
      throw new LabelingError("BAD_REQUEST", `flags: response ${completionId} has a flag twice`);
    }
  }
  const flags = Object.fromEntries(Object.entries(answer.flags).filter(([, list]) => list.length > 0));

  // A skip is stored (so the task is not offered to them again) but does not count towards the task.
  const counted = (skipped: boolean) => (skipped ? 0 : 1);
  const delta = counted(answer.skipped) - (previous ? counted(previous.skipped) : 0);
  if (delta > 0 && !task.is_gold && task.ranking_count >= task.required_rankings) {
    throw new LabelingError(
      "CONFLICT",
      `this task already has the ${task.required_rankings} ranking${task.required_rankings === 1 ? "" : "s"} it needs; take the next one`,
    );
  }

  // 3. One statement stores the answer (new, or the annotator's earlier one changed), counts it on the
  // task and ends the annotator's lease.
  const values = {
    ranking: ranking === null ? null : JSON.stringify(ranking),
    flags: JSON.stringify(flags),
    strength: answer.strength ?? null,
    note: answer.note?.trim() ? answer.note.trim() : null,
    timeMs: answer.timeMs ?? null,
  };
  let saved: { id: string }[];
  try {
    saved = await rowsOf<{ id: string }>(client, saveAnswer, [
      task.id,
      annotatorId,
      values.ranking,
      answer.skipped,
      answer.allBad,
      values.strength,
      values.flags,
      values.note,
      values.timeMs,
      answer.idempotencyKey,
      delta,
    ]);
  } catch (error) {
    // The same key sent at the same moment for another task of theirs: a client bug, said plainly.
    if (causeCode(error) === "23505") {
      throw new LabelingError("CONFLICT", "this submission key was already used for another answer");
    }
    throw error;
  }
  return { status: previous ? "updated" : "recorded", rankingId: saved[0]!.id, sources };
}

/** The PostgreSQL error code of a failed query (drizzle wraps the driver's error). */
function causeCode(error: unknown): string | undefined {
  let current = error as { code?: string; cause?: unknown } | undefined;
  while (current) {
    if (typeof current.code === "string") return current.code;
    current = current.cause as typeof current;
  }
  return undefined;
}

/**
 * Take back the annotator's latest answer if it is at most `UNDO_SECONDS` old and was not changed since:
 * it is deleted, no longer counted, and the task is held for them again, so the next task they get is
 * this one. Returns its task id, or null when there is nothing to undo.
 */
export async function undoLastRanking(
  db: Db,
  annotatorId: string,
  options: { withinSeconds?: number } = {},
): Promise<{ taskId: string; datasetId: string } | null> {
  const within = options.withinSeconds ?? UNDO_SECONDS;
  return db.transaction(async (tx) => {
    const { rows } = await tx.execute<{
      id: string;
      task_id: string;
      skipped: boolean;
      dataset_id: string;
    }>(sql`
      select r.id, r.task_id, r.skipped, t.dataset_id
      from rankings r join comparison_tasks t on t.id = r.task_id
      where r.annotator_id = ${annotatorId}
      order by r.updated_at desc limit 1`);
    const latest = rows[0];
    if (!latest) return null;
    await tx.execute(sql`select 1 from comparison_tasks where id = ${latest.task_id} for update`);
    const { rows: deleted } = await tx.execute<{ id: string }>(sql`
      delete from rankings
      where id = ${latest.id} and created_at = updated_at and created_at > now() - make_interval(secs => ${within})
      returning id`);
    if (deleted.length === 0) return null;
    if (!latest.skipped) {
      await tx.execute(
        sql`update comparison_tasks set ranking_count = ranking_count - 1 where id = ${latest.task_id}`,
      );
    }
    await tx.execute(sql`
      insert into task_leases (task_id, annotator_id, expires_at)
      values (${latest.task_id}, ${annotatorId}, now() + interval '10 minutes')
      on conflict (task_id, annotator_id) do update set expires_at = excluded.expires_at`);
    return { taskId: latest.task_id, datasetId: latest.dataset_id };
  });
}

/** The answer's columns of a `rankings` row as raw SQL returns them (snake_case, jsonb parsed). */
export type RankingAnswerRow = {
  ranking: string[][] | null;
  skipped: boolean;
  all_bad: boolean;
  strength: number | null;
  flags: Record<string, string[]>;
  note: string | null;
};

/** One of the annotator's own answers with its task, to look at or change it. Others' answers stay hidden. */
export async function ownRanking(db: Db, annotatorId: string, taskId: string) {
  const { rows } = await db.execute<
    RankingAnswerRow & { id: string; prompt: string; dataset_id: string }
  >(sql`
    select r.id, r.ranking, r.skipped, r.all_bad, r.strength, r.flags, r.note, t.prompt, t.dataset_id
    from rankings r join comparison_tasks t on t.id = r.task_id
    where r.task_id = ${taskId} and r.annotator_id = ${annotatorId}`);
  const row = rows[0];
  if (!row) throw new LabelingError("NOT_FOUND", "you have not answered this task");
  const { rows: completions } = await db.execute<{ id: string; position: number; response: string }>(sql`
    select c.id, tc.position, c.response
    from task_completions tc join completions c on c.id = tc.completion_id
    where tc.task_id = ${taskId} order by tc.position`);
  return {
    rankingId: row.id,
    taskId,
    datasetId: row.dataset_id,
    prompt: row.prompt,
    completions,
    answer: {
      ranking: row.ranking,
      skipped: row.skipped,
      allBad: row.all_bad,
      strength: row.strength as 1 | 2 | null,
      flags: row.flags,
      note: row.note,
    },
  };
}

/** The annotator's own answers, newest first (their history page). */
export async function ownRankings(db: Db, annotatorId: string, options: { limit?: number } = {}) {
  const { rows } = await db.execute<{
    task_id: string;
    dataset: string;
    prompt: string;
    skipped: boolean;
    all_bad: boolean;
    k: number;
    updated_at: Date;
  }>(sql`
    select r.task_id, d.name as dataset, t.prompt, r.skipped, r.all_bad,
      (select count(*)::int from task_completions tc where tc.task_id = t.id) as k, r.updated_at
    from rankings r join comparison_tasks t on t.id = r.task_id join datasets d on d.id = t.dataset_id
    where r.annotator_id = ${annotatorId}
    order by r.updated_at desc limit ${options.limit ?? 100}`);
  return rows.map((r) => ({
    taskId: r.task_id,
    dataset: r.dataset,
    prompt: r.prompt,
    skipped: r.skipped,
    allBad: r.all_bad,
    responses: r.k,
    updatedAt: new Date(r.updated_at),
  }));
}
