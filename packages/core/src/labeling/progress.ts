/**
 * How far along things are: an annotator's own progress (done today, total, what is left for them), and
 * for admins each dataset's state and each annotator's counts and speed.
 */
import { sql } from "drizzle-orm";
import type { Db } from "../db/open";

export interface AnnotatorProgress {
  /** Answers (not skips) given since the annotator's local midnight, in this dataset and in all. */
  doneToday: number;
  doneTodayAll: number;
  /** Answers given in this dataset, ever. */
  total: number;
  /** Tasks of this dataset still open to them: not answered by them and still needing rankings. */
  queueLeft: number;
}

/**
 * @param utcOffsetMinutes the annotator's offset from UTC (e.g. +60 in Paris in winter) so that "today"
 * starts at their midnight.
 */
export async function annotatorProgress(
  db: Db,
  annotatorId: string,
  datasetId: string,
  utcOffsetMinutes = 0,
): Promise<AnnotatorProgress> {
  const { rows } = await db.execute<{
    done_today: number;
    done_today_all: number;
    total: number;
    queue_left: number;
  }>(sql`
    with day as (
      select (date_trunc('day', now() + make_interval(mins => ${utcOffsetMinutes}))
        - make_interval(mins => ${utcOffsetMinutes})) as start
    ),
    mine as (
      select r.created_at, t.dataset_id from rankings r join comparison_tasks t on t.id = r.task_id
      where r.annotator_id = ${annotatorId} and not r.skipped
    )
    select
      (select count(*)::int from mine, day where mine.dataset_id = ${datasetId} and mine.created_at >= day.start) as done_today,
      (select count(*)::int from mine, day where mine.created_at >= day.start) as done_today_all,
      (select count(*)::int from mine where mine.dataset_id = ${datasetId}) as total,
      (select count(*)::int from comparison_tasks t
        where t.dataset_id = ${datasetId}
          and (t.gold_ranking is not null or t.ranking_count < t.required_rankings)
          and not exists (select 1 from rankings r where r.task_id = t.id and r.annotator_id = ${annotatorId})
      ) as queue_left`);
  const row = rows[0]!;
  return {
    doneToday: row.done_today,
    doneTodayAll: row.done_today_all,
    total: row.total,
    queueLeft: row.queue_left,
  };
}

export interface DatasetProgress {
  id: string;
  name: string;
  description: string;
  requiredRankings: number;
  tasks: number;
  /** Tasks that still need rankings (gold tasks not included). */
  pending: number;
  /** Tasks with all the rankings they need. */
  completed: number;
  /** Tasks somebody skipped at least once. */
  skipped: number;
  /** Tasks with a response somebody flagged. */
  flagged: number;
  gold: number;
  rankings: number;
  annotators: number;
}

/** Every preference dataset's progress, newest first. */
export async function datasetsProgress(db: Db): Promise<DatasetProgress[]> {
  const { rows } = await db.execute<{
    id: string;
    name: string;
    description: string;
    required_rankings: number;
    tasks: number;
    pending: number;
    completed: number;
    skipped: number;
    flagged: number;
    gold: number;
    rankings: number;
    annotators: number;
  }>(sql`
    select d.id, d.name, d.description, d.required_rankings,
      count(t.id)::int as tasks,
      (count(t.id) filter (where t.gold_ranking is null and t.ranking_count < t.required_rankings))::int as pending,
      (count(t.id) filter (where t.gold_ranking is null and t.ranking_count >= t.required_rankings))::int as completed,
      (count(t.id) filter (where exists (select 1 from rankings r where r.task_id = t.id and r.skipped)))::int as skipped,
      (count(t.id) filter (where exists (select 1 from rankings r where r.task_id = t.id and r.flags <> '{}'::jsonb)))::int as flagged,
      (count(t.id) filter (where t.gold_ranking is not null))::int as gold,
      coalesce((select count(*)::int from rankings r join comparison_tasks t2 on t2.id = r.task_id
        where t2.dataset_id = d.id and not r.skipped), 0) as rankings,
      coalesce((select count(distinct r.annotator_id)::int from rankings r join comparison_tasks t2 on t2.id = r.task_id
        where t2.dataset_id = d.id), 0) as annotators
    from datasets d left join comparison_tasks t on t.dataset_id = d.id
    where d.kind = 'preferences'
    group by d.id
    order by d.created_at desc, d.id`);
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    description: r.description,
    requiredRankings: r.required_rankings,
    tasks: r.tasks,
    pending: r.pending,
    completed: r.completed,
    skipped: r.skipped,
    flagged: r.flagged,
    gold: r.gold,
    rankings: r.rankings,
    annotators: r.annotators,
  }));
}

export interface AnnotatorStats {
  annotatorId: string;
  name: string;
  email: string;
  /** Answers that count (rankings and "all bad"), skips, and the "all bad" among the answers. */
  rankings: number;
  skips: number;
  allBad: number;
  flagsGiven: number;
  /** Median and 90th percentile of the time taken per answer, in seconds (null without timings). */
  medianSeconds: number | null;
  p90Seconds: number | null;
  /** Answers in the last 24 hours. */
  last24h: number;
  lastAt: Date | null;
}

/** Per-annotator counts and speed in a dataset, most productive first. */
export async function annotatorStats(db: Db, datasetId: string): Promise<AnnotatorStats[]> {
  const { rows } = await db.execute<{
    annotator_id: string;
    name: string;
    email: string;
    rankings: number;
    skips: number;
    all_bad: number;
    flags_given: number;
    median_ms: number | null;
    p90_ms: number | null;
    last_24h: number;
    last_at: Date | null;
  }>(sql`
    select r.annotator_id, u.name, u.email,
      (count(*) filter (where not r.skipped))::int as rankings,
      (count(*) filter (where r.skipped))::int as skips,
      (count(*) filter (where r.all_bad))::int as all_bad,
      coalesce(sum((select count(*) from jsonb_each(r.flags) f, jsonb_array_elements(f.value))), 0)::int as flags_given,
      percentile_cont(0.5) within group (order by r.time_ms) filter (where not r.skipped) as median_ms,
      percentile_cont(0.9) within group (order by r.time_ms) filter (where not r.skipped) as p90_ms,
      (count(*) filter (where not r.skipped and r.created_at > now() - interval '24 hours'))::int as last_24h,
      max(r.updated_at) as last_at
    from rankings r join comparison_tasks t on t.id = r.task_id join users u on u.id = r.annotator_id
    where t.dataset_id = ${datasetId}
    group by r.annotator_id, u.name, u.email
    order by rankings desc, u.email`);
  return rows.map((r) => ({
    annotatorId: r.annotator_id,
    name: r.name,
    email: r.email,
    rankings: r.rankings,
    skips: r.skips,
    allBad: r.all_bad,
    flagsGiven: r.flags_given,
    medianSeconds: r.median_ms == null ? null : Number(r.median_ms) / 1000,
    p90Seconds: r.p90_ms == null ? null : Number(r.p90_ms) / 1000,
    last24h: r.last_24h,
    lastAt: r.last_at ? new Date(r.last_at) : null,
  }));
}
