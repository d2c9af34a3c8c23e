/**
 * The demo chain recorded as runs, both ways it is run: `rlhf pipeline --demo` creates each stage's run
 * and trains it in its own process (`wireDemoStep`, once the runs it consumes exist), the dashboard's demo
 * button queues the whole chain for the workers (`launchDemoPipeline`). Both name the runs
 * `<prefix>-<stage key>` and link them by the edges of `demoChain`.
 */
import type { Database } from "../db/open";
import { runInputs } from "../db/schema";
import { type LaunchedRun, launchPipeline, type PipelineStep } from "../queue/launch";
import type { DemoLanguage } from "./generator";
import { seedDemo } from "./seed";
import { type DemoChainStep, demoChain } from "./stages";

export interface DemoRunOptions {
  /** The CI smoke test's settings: a smaller model and far fewer steps. */
  quick?: boolean;
  seed?: number;
  /** Prefix of the run names (default "demo", or "demo-quick"). */
  name?: string;
  /** The language of the demo data the chain trains on (what `seedDemo` reports), for what its runs sample. */
  language?: DemoLanguage;
}

export const DEFAULT_DEMO_SEED = 1234;

/** The run name of stage `key`. */
export function demoRunName(options: DemoRunOptions, key: string): string {
  return `${options.name ?? (options.quick ? "demo-quick" : "demo")}-${key}`;
}

/** The chain of `options`: stage settings and edges. */
export function demoChainOf(options: DemoRunOptions): DemoChainStep[] {
  return demoChain(options.quick ?? false, options.seed ?? DEFAULT_DEMO_SEED, options.language);
}

/**
 * A stage's config and `run_inputs` edges once the runs it consumes exist: each `run:<stage key>` (nested
 * reward functions included) becomes `run:<run id>` of `ids`.
 */
export function wireDemoStep(
  step: DemoChainStep,
  ids: Record<string, string>,
): { config: Record<string, unknown>; inputs: { parentRunId: string; role: string }[] } {
  const inputs = step.inputs.map(([parent, role]) => {
    const parentRunId = ids[parent];
    if (!parentRunId) throw new Error(`demo stage ${step.key} needs ${parent}, which has no run yet`);
    return { parentRunId, role };
  });
  const config = replaceStageRefs(step.config, (key) => (ids[key] ? `run:${ids[key]}` : undefined));
  return { config: config as Record<string, unknown>, inputs };
}

/**
 * `value` (a stage config, nested reward functions included) with every `run:<stage key>` that `to` maps
 * replaced by what it returns; other strings as they are.
 */
export function replaceStageRefs(value: unknown, to: (key: string) => string | undefined): unknown {
  if (typeof value === "string") return (value.startsWith("run:") && to(value.slice(4))) || value;
  if (Array.isArray(value)) return value.map((v) => replaceStageRefs(v, to));
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceStageRefs(v, to)]));
  return value;
}

/** The demo chain as pipeline steps: each stage refers to the ones it consumes as `run:<key>`. */
export function demoPipelineSteps(options: DemoRunOptions = {}): PipelineStep[] {
  return demoChainOf(options).map(({ key, kind, config }) => ({
    key,
    kind,
    name: demoRunName(options, key),
    config,
  }));
}

/**
 * Seed the demo datasets (once, English unless the database was seeded in Chinese) and queue the chain. The reward model and DPO train on the rankings the
 * generate step writes, which no config field refers to: those edges are added to `run_inputs` right
 * after the launch, while the runs still wait for SFT, so no worker can start them before generate ends.
 */
export async function launchDemoPipeline(
  database: Database,
  options: { quick?: boolean; seed?: number } = {},
): Promise<{ pipelineId: string; runs: LaunchedRun[] }> {
  // The chain samples in the language of the demo data this database holds.
  const { language } = await seedDemo(database.db);
  const chain: DemoRunOptions = { ...options, language };
  const launched = await launchPipeline(database, demoPipelineSteps(chain));
  const id = (key: string) => launched.runs.find((r) => r.name === demoRunName(chain, key))!.id;
  const completions = demoChainOf(chain).flatMap(({ key, inputs }) =>
    inputs
      .filter(([, role]) => role === "completions")
      .map(([parent, role]) => ({ runId: id(key), parentRunId: id(parent), role })),
  );
  await database.db.insert(runInputs).values(completions);
  return launched;
}
