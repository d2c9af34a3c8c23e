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
import { findRun, type RunRecord, replaceAt, runNameProblem, runReferences } from "./refs";
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

/**
 * A config as its kind's schema reads it (strict, defaults filled), its reward functions checked: what
 * launching and `createRun` store. Throws a ConfigError naming the field.
 */
export async function validateRunConfig(kind: JobKind, config: unknown): Promise<Record<string, unknown>> {
  const parsed = parseJobConfig(kind, config, { strict: true }) as Record<string, unknown>;
  // A reward spec's own functions: file and export must exist now; their paths are stored absolute.
  return checkRewardSpec(parsed, process.cwd(), kind);
}

function kindProblem(kind: unknown): string {
  return `unknown job kind "${kind}"; expected one of ${Object.keys(jobConfigSchemas).join(", ")}`;
}

function nameProblem(name: string | undefined): string | undefined {
  if (name === undefined || name.trim() === "") return undefined;
  const problem = runNameProblem(name);
  return problem && `run name ${problem}`;
}

/** The given name, trimmed, or `<kind>-<6 hex>`. */
function runName(kind: JobKind, name: string | undefined): string {
  return name?.trim() || `${kind}-${randomBytes(3).toString("hex")}`;
}

export interface CreateRunOptions extends LaunchRunOptions {
  /** Runs created together (the demo's stages) share one. */
  pipelineId?: string;
  /** Runs this one consumes, with their role (`run_inputs`): the chain the dashboard draws. */
  inputs?: { parentRunId: string; role: string }[];
}

/**
 * Record a run that this process executes at once, without the queue (`rlhf train`, the CLI demo, the
 * benchmarks): validated as `launchRun` validates (the config by its schema, strict; reward functions;
 * the name), queued with no job, its inputs recorded with it. Its `run:` references are kept as given and
 * resolved when it runs. An invalid config throws a ConfigError and records nothing.
 */
export async function createRun(database: Database, options: CreateRunOptions): Promise<RunRecord> {
  const { kind } = options;
  if (!isJobKind(String(kind)))
    throw new ConfigError(String(kind), [{ path: "kind", message: kindProblem(kind) }]);
  const config = await validateRunConfig(kind, options.config);
  const problem = nameProblem(options.name);
  if (problem) throw new ConfigError(kind, [{ path: "name", message: problem }]);
  return transaction(database, async ({ db }) => {
    const [run] = await db
      .insert(runs)
      .values({ name: runName(kind, options.name), kind, config, pipelineId: options.pipelineId ?? null })
      .returning();
    const inputs = options.inputs ?? [];
    if (inputs.length > 0) await db.insert(runInputs).values(inputs.map((i) => ({ runId: run!.id, ...i })));
    return run!;
  });
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
    if (!isJobKind(String(step.kind))) fail("kind", kindProblem(step.kind));
    if (inPipeline && keys.has(key))
      fail("key", `two steps have the key "${key}"; give each step its own key`);

    let config: Record<string, unknown>;
    try {
      config = await validateRunConfig(step.kind, step.config);
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
    const problem = nameProblem(step.name);
    if (problem) fail("name", problem);
    const name = runName(step.kind, step.name);
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
