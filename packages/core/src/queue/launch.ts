/**
 * Launching: validate each config with its zod schema, then create the `runs` rows, their `run_inputs`
 * edges and their pg-boss jobs in one transaction — never a run without a job, nor a job without a run.
 * An invalid config throws a ConfigError naming the field and creates nothing.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { ConfigError, isJobKind, type JobKind, jobConfigSchemas, parseJobConfig } from "../configs";
import type { Database } from "../db/open";
import { runInputs, runs } from "../db/schema";
import { checkRewardSpec } from "../rewards";
import { queueFor, sendRunJob } from "./boss";
import { findRun, replaceAt, runNameProblem, runReferences } from "./refs";
import { didYouMean } from "./suggest";
import { transaction } from "./tx";

export interface LaunchRunOptions {
  kind: JobKind;
  /** The job config; validated (and defaults filled) by the kind's schema in `@rlhf/core/configs`. */
  config: unknown;
  /** Defaults to `<kind>-<6 hex>`. */
  name?: string;
}

export interface LaunchedRun {
  id: string;
  name: string;
  kind: JobKind;
  jobId: string;
  pipelineId: string | null;
  /** Runs this one waits for (`run:` references in its config). */
  inputs: { parentRunId: string; role: string }[];
}

export interface PipelineStep extends LaunchRunOptions {
  /**
   * How later steps refer to this one: a config value `run:<key>` (in `init`, `policy`, `rewardModel`…)
   * becomes this step's run. Defaults to the step's kind.
   */
  key?: string;
}

/** Queue one run. Its config may refer to existing runs as `run:<id or name>`; it starts once they succeed. */
export async function launchRun(database: Database, options: LaunchRunOptions): Promise<LaunchedRun> {
  const [run] = await launch(database, [options], null);
  return run!;
}

/**
 * Queue a chain of runs in one transaction (pretrain → sft → reward → ppo, say). A step's config refers to
 * an earlier step as `run:<key>`; each run starts when the runs it refers to have succeeded, and fails
 * with "input run … failed" when one of them fails or is cancelled.
 */
export async function launchPipeline(
  database: Database,
  steps: PipelineStep[],
): Promise<{ pipelineId: string; runs: LaunchedRun[] }> {
  if (steps.length === 0) throw new ConfigError("pipeline", [{ path: "steps", message: "no steps" }]);
  const pipelineId = randomUUID();
  return { pipelineId, runs: await launch(database, steps, pipelineId) };
}

interface PlannedRun {
  id: string;
  name: string;
  kind: JobKind;
  config: Record<string, unknown>;
  inputs: { parentRunId: string; role: string }[];
}

async function launch(database: Database, steps: PipelineStep[], pipelineId: string | null) {
  const inPipeline = pipelineId !== null;
  const keys = new Map<string, { index: number; id: string; name: string }>();
  const planned: PlannedRun[] = [];

  for (const [index, step] of steps.entries()) {
    const key = step.key ?? step.kind;
    const label = (path: string) => (inPipeline ? [key, path].filter(Boolean).join(".") : path);
    const fail = (path: string, message: string): never => {
      throw new ConfigError(String(step.kind), [{ path: label(path), message }]);
    };
    if (!isJobKind(String(step.kind))) {
      fail(
        "kind",
        `unknown job kind "${step.kind}"; expected one of ${Object.keys(jobConfigSchemas).join(", ")}`,
      );
    }
    if (inPipeline && keys.has(key))
      fail("key", `two steps have the key "${key}"; give each step its own key`);

    let config: Record<string, unknown>;
    try {
      config = parseJobConfig(step.kind, step.config, { strict: true }) as Record<string, unknown>;
      // A reward spec's own functions: file and export must exist now; their paths are stored absolute.
      config = await checkRewardSpec(config, process.cwd(), step.kind);
    } catch (error) {
      if (error instanceof ConfigError && inPipeline) {
        throw new ConfigError(
          `${step.kind} (pipeline step "${key}")`,
          error.issues.map((issue) => ({ ...issue, path: label(issue.path) })),
        );
      }
      throw error;
    }

    // `run:` references: to an earlier step of this pipeline, or to an existing run of the workbench.
    const replacements = new Map<string, string>();
    const inputs: PlannedRun["inputs"] = [];
    for (const { path, ref } of runReferences(config)) {
      let parentRunId: string;
      const sibling = inPipeline ? keys.get(ref) : undefined;
      if (sibling) {
        parentRunId = sibling.id;
      } else if (inPipeline && steps.slice(index).some((s) => (s.key ?? s.kind) === ref)) {
        return fail(path, `run:${ref} is this step or a later one; a step can only use earlier steps`);
      } else {
        const existing = await findRun(database.db, ref);
        if (!existing) {
          return fail(
            path,
            `run:${ref} matches no run${inPipeline ? " and no earlier step of this pipeline" : ""} (give a run id or name)${await didYouMean(database.db, ref, "run:")}`,
          );
        }
        if (existing.status === "failed" || existing.status === "cancelled") {
          return fail(path, `input run ${existing.name} ${existing.status}; it cannot feed a new run`);
        }
        parentRunId = existing.id;
      }
      // Pin the reference to the run's id: names are not unique, ids are.
      replacements.set(path, `run:${parentRunId}`);
      // A serve run serves a checkpoint that exists now (a run still training has some): it waits only
      // for an earlier step of its own pipeline.
      if (step.kind === "serve" && !sibling) continue;
      if (!inputs.some((i) => i.parentRunId === parentRunId && i.role === path)) {
        inputs.push({ parentRunId, role: path });
      }
    }

    const id = randomUUID();
    if (step.name !== undefined && step.name.trim() !== "") {
      const problem = runNameProblem(step.name);
      if (problem) fail("name", `run name ${problem}`);
    }
    const name = step.name?.trim() || `${step.kind}-${randomBytes(3).toString("hex")}`;
    keys.set(key, { index, id, name });
    planned.push({
      id,
      name,
      kind: step.kind,
      config: replaceAt(config, replacements) as Record<string, unknown>,
      inputs,
    });
  }

  const boss = await queueFor(database);
  return transaction(database, async ({ db, client }) => {
    const launched: LaunchedRun[] = [];
    for (const run of planned) {
      const jobId = await sendRunJob(boss, client, { runId: run.id, failures: 0 }, { kind: run.kind });
      await db.insert(runs).values({
        id: run.id,
        name: run.name,
        kind: run.kind,
        config: run.config,
        pipelineId,
        jobId,
        status: "queued",
      });
      if (run.inputs.length > 0) {
        await db.insert(runInputs).values(run.inputs.map((input) => ({ runId: run.id, ...input })));
      }
      launched.push({ id: run.id, name: run.name, kind: run.kind, jobId, pipelineId, inputs: run.inputs });
    }
    return launched;
  });
}
