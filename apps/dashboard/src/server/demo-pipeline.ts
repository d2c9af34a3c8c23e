/**
 * "Run the demo pipeline" from the dashboard: the chain `rlhf pipeline --demo` runs in one process
 * (@rlhf/core/demo's demoChain: pretrain → SFT → generate + oracle rankings → reward model → PPO, GRPO,
 * GRPO on the oracle, RLOO, and DPO beside them), launched through the queue instead, so any worker runs
 * it and the dashboard shows it as a chain.
 */

import type { Database } from "@rlhf/core/db";
import { demoChain, demoStages, seedDemo } from "@rlhf/core/demo";
import { type LaunchedRun, launchPipeline, type PipelineStep } from "@rlhf/core/queue";
import { runInputs } from "@rlhf/core/schema";

/** The stage settings, shared with `rlhf pipeline --demo` (they live in @rlhf/core/demo). */
export { demoStages };

/** The demo chain as pipeline steps: each stage refers to the ones it consumes as `run:<key>`. */
export function demoPipelineSteps(
  options: { quick?: boolean; seed?: number; name?: string } = {},
): PipelineStep[] {
  const quick = options.quick ?? false;
  const name = options.name ?? (quick ? "demo-quick" : "demo");
  return demoChain(quick, options.seed ?? 1234).map(({ key, kind, config }) => ({
    key,
    kind,
    name: `${name}-${key}`,
    config,
  }));
}

/**
 * Seed the demo datasets (once) and queue the chain. The reward model and DPO train on the rankings the
 * generate step writes, which no config field refers to: those edges are added to `run_inputs` right
 * after the launch, while the runs still wait for SFT, so no worker can start them before generate ends.
 */
export async function launchDemoPipeline(
  database: Database,
  options: { quick?: boolean; seed?: number } = {},
): Promise<{ pipelineId: string; runs: LaunchedRun[] }> {
  await seedDemo(database.db);
  const launched = await launchPipeline(database, demoPipelineSteps(options));
  const id = (key: string) => launched.runs.find((r) => r.name.endsWith(`-${key}`))!.id;
  const completions = demoChain(options.quick ?? false, options.seed ?? 1234).flatMap(({ key, inputs }) =>
    inputs
      .filter(([, role]) => role === "completions")
      .map(([parent, role]) => ({ runId: id(key), parentRunId: id(parent), role })),
  );
  await database.db.insert(runInputs).values(completions);
  return launched;
}
