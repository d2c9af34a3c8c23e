/**
 * The data page: every dataset with its size, and for preference datasets the labeling progress (from the
 * labeler's tables), the annotators' agreement and the preference pairs available for training.
 */
import type { Db } from "@rlhf/core/db";
import { type AgreementReport, agreementOf } from "@rlhf/core/labeling";
import type { DatasetKind } from "@rlhf/core/schema";
import { sql } from "@rlhf/core/trpc";

interface DatasetRow extends Record<string, unknown> {
  id: string;
  name: string;
  kind: DatasetKind;
  description: string;
  source: string;
  required_rankings: number;
  created_at: Date;
  train: number;
  eval: number;
  tasks: number;
  complete_tasks: number;
  rankings_needed: number;
  rankings: number;
  skipped: number;
  all_bad: number;
  annotators: number;
  pairs: number;
  completions: number;
}

/** Rankings read for agreement, at most: enough for a stable rate, bounded for a big dataset. */
const AGREEMENT_SAMPLE = 20_000;

export async function dataOverview(db: Db) {
  const { rows } = await db.execute<DatasetRow>(sql`
    with example_counts as (
      select dataset_id, count(*) filter (where split = 'train')::int as train,
             count(*) filter (where split = 'eval')::int as eval
      from examples group by dataset_id
    ), task_counts as (
      select dataset_id, count(*)::int as tasks,
             count(*) filter (where ranking_count >= required_rankings)::int as complete_tasks,
             sum(required_rankings)::int as rankings_needed
      from comparison_tasks group by dataset_id
    ), completion_counts as (
      select t.dataset_id, count(*)::int as completions
      from task_completions tc join comparison_tasks t on t.id = tc.task_id group by t.dataset_id
    ), ranking_counts as (
      select t.dataset_id, count(*)::int as rankings,
             count(*) filter (where r.skipped)::int as skipped,
             count(*) filter (where r.all_bad)::int as all_bad,
             count(distinct r.annotator_id)::int as annotators,
             -- A ranking of n completions in groups g₁…gₖ implies (n² − Σ|gᵢ|²) / 2 pairs (none within a tie).
             coalesce(sum(p.pairs) filter (where not r.skipped and not r.all_bad), 0)::bigint as pairs
      from rankings r
      join comparison_tasks t on t.id = r.task_id
      cross join lateral (
        select (coalesce(sum(jsonb_array_length(g)), 0) ^ 2 - coalesce(sum(jsonb_array_length(g) ^ 2), 0)) / 2 as pairs
        from jsonb_array_elements(case when jsonb_typeof(r.ranking) = 'array' then r.ranking else '[]'::jsonb end) g
      ) p
      group by t.dataset_id
    )
    select d.id, d.name, d.kind, d.description, d.source, d.required_rankings, d.created_at,
           coalesce(e.train, 0) as train, coalesce(e.eval, 0) as eval,
           coalesce(tc.tasks, 0) as tasks, coalesce(tc.complete_tasks, 0) as complete_tasks,
           coalesce(tc.rankings_needed, 0) as rankings_needed,
           coalesce(cc.completions, 0) as completions,
           coalesce(rc.rankings, 0) as rankings, coalesce(rc.skipped, 0) as skipped,
           coalesce(rc.all_bad, 0) as all_bad, coalesce(rc.annotators, 0) as annotators,
           coalesce(rc.pairs, 0) as pairs
    from datasets d
    left join example_counts e on e.dataset_id = d.id
    left join task_counts tc on tc.dataset_id = d.id
    left join completion_counts cc on cc.dataset_id = d.id
    left join ranking_counts rc on rc.dataset_id = d.id
    order by d.created_at, d.name`);

  const agreement = await agreementByDataset(db);
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    kind: r.kind,
    description: r.description,
    source: r.source,
    requiredRankings: r.required_rankings,
    createdAt: new Date(r.created_at),
    examples: { train: Number(r.train), eval: Number(r.eval) },
    tasks: Number(r.tasks),
    completeTasks: Number(r.complete_tasks),
    rankingsNeeded: Number(r.rankings_needed),
    completions: Number(r.completions),
    rankings: Number(r.rankings),
    skipped: Number(r.skipped),
    allBad: Number(r.all_bad),
    annotators: Number(r.annotators),
    pairs: Number(r.pairs),
    agreement: agreement.get(r.id) ?? null,
  }));
}

/**
 * Agreement per dataset (pairwise and Krippendorff's ordinal alpha, from @rlhf/core/labeling) over the tasks
 * that at least two annotators ranked; at most AGREEMENT_SAMPLE rankings are read.
 */
async function agreementByDataset(db: Db): Promise<Map<string, AgreementReport>> {
  const { rows } = await db.execute<{
    dataset_id: string;
    task_id: string;
    annotator: string;
    ranking: string[][];
  }>(sql`
    select t.dataset_id, r.task_id, r.annotator_id as annotator, r.ranking
    from rankings r join comparison_tasks t on t.id = r.task_id
    where t.ranking_count >= 2 and not r.skipped and not r.all_bad and r.ranking is not null
    order by t.dataset_id, r.task_id
    limit ${AGREEMENT_SAMPLE}`);
  const byDataset = new Map<string, { taskId: string; annotator: string; ranking: string[][] }[]>();
  for (const row of rows) {
    const list = byDataset.get(row.dataset_id) ?? [];
    list.push({ taskId: row.task_id, annotator: row.annotator, ranking: row.ranking });
    byDataset.set(row.dataset_id, list);
  }
  return new Map([...byDataset].map(([id, rankings]) => [id, agreementOf(rankings)]));
}
