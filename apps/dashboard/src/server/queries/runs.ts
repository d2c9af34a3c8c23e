/**
 * What the runs table and the run page read. Every per-key lookup walks the (run_id, key, step) primary
 * key of `metrics` (a probe per key, never a scan of a run's points), so a run with millions of points
 * costs the same as a small one.
 */
import type { Db } from "@rlhf/core/db";
import { type RunKind, type RunStatus, runInputs, runLogs, runs } from "@rlhf/core/schema";
import { and, asc, desc, eq, inArray, sql } from "@rlhf/core/trpc";

type SQL = ReturnType<typeof sql>;

/** The columns of the table's "last metrics": per column, the keys to try, first found wins. */
export const KEY_METRICS = {
  loss: ["loss", "eval/loss", "loss/policy_avg"],
  reward: ["objective/scores", "objective/rlhf_reward", "rewards/margins", "reward/mean", "reward"],
  kl: ["objective/kl", "kl"],
  accuracy: ["eval/accuracy", "accuracy", "rewards/accuracies", "eval/mean_token_accuracy"],
} as const;
export type KeyMetric = keyof typeof KEY_METRICS;

export interface RunsTableOptions {
  search?: string;
  kinds?: RunKind[];
  statuses?: RunStatus[];
  limit?: number;
}

export interface LastPoint {
  key: string;
  step: number;
  value: number;
}

const tableColumns = {
  id: runs.id,
  name: runs.name,
  kind: runs.kind,
  status: runs.status,
  backend: runs.backend,
  pipelineId: runs.pipelineId,
  step: runs.step,
  totalSteps: runs.totalSteps,
  error: runs.error,
  createdAt: runs.createdAt,
  startedAt: runs.startedAt,
  finishedAt: runs.finishedAt,
};

/** Runs newest first, filtered, with their parents and the last value of the key metrics. */
export async function runsTable(db: Db, options: RunsTableOptions = {}) {
  const where: SQL[] = [];
  const search = options.search?.trim();
  if (search) {
    const pattern = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    // A run id (or its first characters, as the table shows them) finds the run too.
    const idPrefix = /^[0-9a-f-]+$/i.test(search)
      ? sql` or ${runs.id}::text like ${`${search.toLowerCase()}%`}`
      : sql``;
    where.push(sql`(${runs.name} ilike ${pattern}${idPrefix})`);
  }
  if (options.kinds?.length) where.push(inArray(runs.kind, options.kinds));
  if (options.statuses?.length) where.push(inArray(runs.status, options.statuses));
  const rows = await db
    .select(tableColumns)
    .from(runs)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(runs.createdAt), desc(runs.id))
    .limit(options.limit ?? 200);
  const ids = rows.map((r) => r.id);
  const [parents, metrics] = await Promise.all([parentsOf(db, ids), lastPoints(db, ids, allKeyMetricKeys())]);
  return rows.map((run) => {
    const last = metrics.get(run.id) ?? new Map<string, LastPoint>();
    const keyMetrics = Object.fromEntries(
      Object.entries(KEY_METRICS).map(([column, keys]) => [
        column,
        keys.map((k) => last.get(k)).find((p) => p !== undefined) ?? null,
      ]),
    ) as Record<KeyMetric, LastPoint | null>;
    return { ...run, parents: parents.get(run.id) ?? [], keyMetrics };
  });
}

function allKeyMetricKeys(): string[] {
  return [...new Set(Object.values(KEY_METRICS).flat())];
}

export interface RunEdge {
  id: string;
  name: string;
  kind: RunKind;
  status: RunStatus;
  role: string;
}

/** Parent runs of each run (what it consumes: a checkpoint, a reward model, completions). */
async function parentsOf(db: Db, ids: string[]): Promise<Map<string, RunEdge[]>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .select({
      runId: runInputs.runId,
      role: runInputs.role,
      id: runs.id,
      name: runs.name,
      kind: runs.kind,
      status: runs.status,
    })
    .from(runInputs)
    .innerJoin(runs, eq(runs.id, runInputs.parentRunId))
    .where(inArray(runInputs.runId, ids))
    .orderBy(asc(runs.createdAt));
  const byRun = new Map<string, RunEdge[]>();
  for (const { runId, ...edge } of rows) byRun.set(runId, [...(byRun.get(runId) ?? []), edge]);
  return byRun;
}

/** The last point of each of `keys` for each run: one primary-key probe per (run, key). */
export async function lastPoints(
  db: Db,
  runIds: string[],
  keys: string[],
): Promise<Map<string, Map<string, LastPoint>>> {
  const byRun = new Map<string, Map<string, LastPoint>>();
  if (runIds.length === 0 || keys.length === 0) return byRun;
  const { rows } = await db.execute<{ run_id: string; key: string; step: string; value: number }>(sql`
    select r.id as run_id, k.key, m.step, m.value
    from unnest(${sql.param(runIds)}::uuid[]) as r(id)
    cross join unnest(${sql.param(keys)}::text[]) as k(key)
    cross join lateral (
      select step, value from metrics where run_id = r.id and key = k.key order by step desc limit 1
    ) m`);
  for (const row of rows) {
    const map = byRun.get(row.run_id) ?? new Map<string, LastPoint>();
    map.set(row.key, { key: row.key, step: Number(row.step), value: row.value });
    byRun.set(row.run_id, map);
  }
  return byRun;
}

/**
 * Every metric key of a run with its last point, in key order. A loose index scan (a recursive query that
 * jumps from one key to the next in the primary key) rather than DISTINCT over all the run's points.
 */
export async function runKeys(db: Db, runId: string): Promise<LastPoint[]> {
  const { rows } = await db.execute<{ key: string; step: string; value: number }>(sql`
    with recursive keys(key) as (
      (select key from metrics where run_id = ${runId} order by key limit 1)
      union all
      select (select m.key from metrics m where m.run_id = ${runId} and m.key > keys.key order by m.key limit 1)
      from keys where keys.key is not null
    )
    select keys.key, last.step, last.value from keys
    cross join lateral (
      select step, value from metrics where run_id = ${runId} and key = keys.key order by step desc limit 1
    ) last
    where keys.key is not null
    order by keys.key`);
  return rows.map((r) => ({ key: r.key, step: Number(r.step), value: r.value }));
}

/** Runs of the same pipelines as `pipelineIds`, with their input edges: what the chain view draws. */
export async function pipelines(db: Db, pipelineIds: string[]) {
  if (pipelineIds.length === 0) return [];
  const members = await db
    .select({
      id: runs.id,
      name: runs.name,
      kind: runs.kind,
      status: runs.status,
      pipelineId: runs.pipelineId,
      step: runs.step,
      totalSteps: runs.totalSteps,
      createdAt: runs.createdAt,
    })
    .from(runs)
    .where(inArray(runs.pipelineId, pipelineIds))
    .orderBy(asc(runs.createdAt), asc(runs.id));
  const parents = await parentsOf(
    db,
    members.map((m) => m.id),
  );
  return pipelineIds.map((pipelineId) => {
    const chain = members
      .filter((m) => m.pipelineId === pipelineId)
      .map((m) => ({ ...m, parents: (parents.get(m.id) ?? []).map((p) => p.id) }));
    return { pipelineId, runs: chain, depth: chainDepths(chain) };
  });
}

/** Each run's depth in its pipeline: 0 for runs with no parent inside it, else 1 + the deepest parent's. */
export function chainDepths(chain: { id: string; parents: string[] }[]): Record<string, number> {
  const byId = new Map(chain.map((r) => [r.id, r]));
  const depth: Record<string, number> = {};
  const visit = (id: string, seen: Set<string>): number => {
    if (depth[id] !== undefined) return depth[id];
    if (seen.has(id)) return 0; // a cycle cannot happen (a run only refers to earlier ones); be safe
    seen.add(id);
    const inside = (byId.get(id)?.parents ?? []).filter((p) => byId.has(p));
    depth[id] = inside.length === 0 ? 0 : 1 + Math.max(...inside.map((p) => visit(p, seen)));
    return depth[id];
  };
  for (const run of chain) visit(run.id, new Set());
  return depth;
}

/** The newest `limit` log lines of a run, oldest first: the first screen of a live tail. */
export async function logTail(db: Db, runId: string, limit = 300) {
  const rows = await db
    .select({ id: runLogs.id, level: runLogs.level, message: runLogs.message, ts: runLogs.ts })
    .from(runLogs)
    .where(eq(runLogs.runId, runId))
    .orderBy(desc(runLogs.id))
    .limit(limit);
  return rows.reverse();
}
