/**
 * Which demo pipeline `rlhf pipeline --demo` continues, and what it does with each stage's run. The
 * pipeline of these settings is the newest one run in a process (no queue jobs: the dashboard's demo
 * button queues its own for the workers) whose every stage run holds the config these settings give.
 * Its stages: succeeded → reused as it is; queued (handed back) or running under a process that is gone →
 * resumed from its latest checkpoint; failed or cancelled → a new run; none yet → a new run.
 */
import os from "node:os";
import { isDeepStrictEqual } from "node:util";
import type { Database } from "@rlhf/core/db";
import { type DemoChainStep, wireDemoStep } from "@rlhf/core/demo";
import { processAlive } from "@rlhf/core/process";
import { type RunRecord, recoverAbandonedRun, validateRunConfig } from "@rlhf/core/queue";
import { runs } from "@rlhf/core/schema";
import { and, desc, eq, isNotNull, isNull } from "drizzle-orm";

/** A running run's heartbeat older than this (and no live process holding the pipeline): its process is gone. */
export const ABANDONED_AFTER_SECONDS = 30;

export interface EarlierPipeline {
  pipelineId: string;
  /** The newest run of each stage key that has one. */
  runs: Map<string, RunRecord>;
}

/**
 * The newest pipeline of `chain` (its runs named by `runName`) run in a process, whose every stage run
 * has the config `chain` wires for it; undefined when there is none.
 */
export async function findEarlierPipeline(
  database: Database,
  chain: DemoChainStep[],
  runName: (key: string) => string,
): Promise<EarlierPipeline | undefined> {
  const firsts = await database.db
    .select({ pipelineId: runs.pipelineId })
    .from(runs)
    .where(and(eq(runs.name, runName(chain[0]!.key)), isNotNull(runs.pipelineId), isNull(runs.jobId)))
    .orderBy(desc(runs.createdAt))
    .limit(20);
  for (const { pipelineId } of firsts) {
    const members = await database.db
      .select()
      .from(runs)
      .where(eq(runs.pipelineId, pipelineId!))
      .orderBy(runs.createdAt);
    if (members.some((run) => run.jobId !== null)) continue; // queued for workers
    const byKey = new Map<string, RunRecord>();
    for (const step of chain) {
      const newest = members.filter((run) => run.name === runName(step.key)).at(-1);
      if (newest) byKey.set(step.key, newest);
    }
    if (await sameSettings(chain, byKey)) return { pipelineId: pipelineId!, runs: byKey };
  }
  return undefined;
}

/** Whether every stage run of `byKey` holds the config `chain` gives it, wired to the runs before it. */
async function sameSettings(chain: DemoChainStep[], byKey: Map<string, RunRecord>): Promise<boolean> {
  const ids: Record<string, string> = {};
  for (const step of chain) {
    const run = byKey.get(step.key);
    if (!run) continue;
    let expected: Record<string, unknown>;
    try {
      expected = await validateRunConfig(step.kind, wireDemoStep(step, ids).config);
    } catch {
      return false; // a stage whose inputs have no run in that pipeline: not one of ours
    }
    if (run.kind !== step.kind || !isDeepStrictEqual(run.config, expected)) return false;
    ids[step.key] = run.id;
  }
  return true;
}

/** What to do with a stage's earlier run. */
export type StagePlan =
  | { action: "reuse"; run: RunRecord }
  | { action: "resume"; run: RunRecord }
  | { action: "new"; previous?: RunRecord };

export function planStage(run: RunRecord | undefined): StagePlan {
  if (!run) return { action: "new" };
  if (run.status === "succeeded") return { action: "reuse", run };
  if (run.status === "queued" || run.status === "running") return { action: "resume", run };
  return { action: "new", previous: run };
}

/**
 * A stage run still marked running: its process must be gone before it is resumed here. The caller holds
 * the pipeline's lock, so no live `rlhf pipeline` of this name runs it, unless one lost its connection in
 * an outage; so a run is taken over only when its process is dead on this host, or its heartbeat is older
 * than ABANDONED_AFTER_SECONDS. Waits for that, then hands the run back (logged as an interruption).
 * Returns the run's row as it then is (queued; or whatever its live process left it as).
 */
export async function takeOverAbandoned(
  database: Database,
  run: RunRecord,
  echo: (line: string) => void,
  signal?: AbortSignal,
): Promise<RunRecord | undefined> {
  let said = false;
  for (;;) {
    const [now] = await database.db.select().from(runs).where(eq(runs.id, run.id));
    if (now?.status !== "running") return now;
    const verdict = abandonment(now);
    if (verdict.abandoned) {
      if (await recoverAbandonedRun(database.db, run.id, now.workerId ?? "", verdict.reason))
        echo(`  ${verdict.reason}`);
      continue; // read its row again: queued now, unless it changed meanwhile
    }
    if (!said) {
      echo(`  ${verdict.reason}; waiting until it is ${ABANDONED_AFTER_SECONDS} s old`);
      said = true;
    }
    if (signal?.aborted) throw new Error("the pipeline was stopped");
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** Whether the process a running run names is gone, and why we think so. */
export function abandonment(run: RunRecord): { abandoned: boolean; reason: string } {
  const who = `${run.workerId ?? "?"} on ${run.workerHost ?? "?"}`;
  const pid = Number(run.workerId?.match(/^cli-(\d+)$/)?.[1]);
  if (
    run.workerHost === os.hostname() &&
    Number.isInteger(pid) &&
    (pid === process.pid || !processAlive(pid))
  )
    return { abandoned: true, reason: `process ${who} that was running it is gone (killed?)` };
  const beat = run.heartbeatAt ?? run.startedAt;
  const seconds = beat ? (Date.now() - beat.getTime()) / 1000 : Number.POSITIVE_INFINITY;
  if (seconds >= ABANDONED_AFTER_SECONDS)
    return { abandoned: true, reason: `${who} stopped heartbeating (last ${Math.round(seconds)} s ago)` };
  return { abandoned: false, reason: `its last heartbeat from ${who} is ${Math.round(seconds)} s old` };
}
