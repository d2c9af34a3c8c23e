/** Reading runs for people and scripts: `rlhf runs list|show|logs` and the dashboard. */
import { and, asc, desc, eq, gt, inArray, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/open";
import { checkpoints, type RunStatus, runInputs, runLogs, runs } from "../db/schema";
import { getRun } from "./refs";

export interface ListRunsOptions {
  status?: RunStatus[];
  kind?: string;
  pipelineId?: string;
  /** Newest first; default 50. */
  limit?: number;
}

export async function listRuns(db: Db, options: ListRunsOptions = {}) {
  const where: SQL[] = [];
  if (options.status?.length) where.push(inArray(runs.status, options.status));
  if (options.kind) where.push(eq(runs.kind, options.kind as never));
  if (options.pipelineId) where.push(eq(runs.pipelineId, options.pipelineId));
  return db
    .select({
      id: runs.id,
      name: runs.name,
      kind: runs.kind,
      status: runs.status,
      step: runs.step,
      totalSteps: runs.totalSteps,
      attempts: runs.attempts,
      workerId: runs.workerId,
      backend: runs.backend,
      error: runs.error,
      pipelineId: runs.pipelineId,
      createdAt: runs.createdAt,
      startedAt: runs.startedAt,
      finishedAt: runs.finishedAt,
    })
    .from(runs)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(runs.createdAt), desc(runs.id))
    .limit(options.limit ?? 50);
}

/**
 * A run's inputs (the runs it consumes) and dependents (the runs that consume it), each with its role.
 * The run page reads this alone: the latest metrics of `runDetail` read every point of the run with
 * DISTINCT ON (seconds for a run of millions of points), so the page takes them from its keys instead.
 */
export async function runLineage(db: Db, runId: string) {
  const edge = { role: runInputs.role, id: runs.id, name: runs.name, status: runs.status };
  const [inputs, dependents] = await Promise.all([
    db
      .select(edge)
      .from(runInputs)
      .innerJoin(runs, eq(runs.id, runInputs.parentRunId))
      .where(eq(runInputs.runId, runId)),
    db
      .select(edge)
      .from(runInputs)
      .innerJoin(runs, eq(runs.id, runInputs.runId))
      .where(eq(runInputs.parentRunId, runId)),
  ]);
  return { inputs, dependents };
}

/** Everything `rlhf runs show` prints: the row, its inputs and dependents, checkpoints, latest metrics. */
export async function runDetail(db: Db, ref: string) {
  const run = await getRun(db, ref);
  const [{ inputs, dependents }, saved, latest] = await Promise.all([
    runLineage(db, run.id),
    db
      .select({ step: checkpoints.step, path: checkpoints.path, isFinal: checkpoints.isFinal })
      .from(checkpoints)
      .where(eq(checkpoints.runId, run.id))
      .orderBy(asc(checkpoints.step)),
    // The last point of each series: DISTINCT ON walks the (run, key, step) primary key backwards.
    db.execute<{ key: string; step: string; value: number }>(
      sql`select distinct on (key) key, step, value from metrics where run_id = ${run.id} order by key, step desc`,
    ),
  ]);
  return {
    run,
    inputs,
    dependents,
    checkpoints: saved,
    latestMetrics: latest.rows.map((r) => ({ key: r.key, step: Number(r.step), value: r.value })),
  };
}

export interface LogLine {
  id: number;
  level: string;
  message: string;
  ts: Date;
}

/** A run's log lines after `afterId` (0: from the start), oldest first; `rlhf runs logs --follow` pages with it. */
export async function runLogLines(db: Db, runId: string, afterId = 0, limit = 1000): Promise<LogLine[]> {
  return db
    .select({ id: runLogs.id, level: runLogs.level, message: runLogs.message, ts: runLogs.ts })
    .from(runLogs)
    .where(and(eq(runLogs.runId, runId), gt(runLogs.id, afterId)))
    .orderBy(asc(runLogs.id))
    .limit(limit);
}
