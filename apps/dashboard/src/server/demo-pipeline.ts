/**
 * "Run the demo pipeline" from the dashboard: the chain `rlhf pipeline --demo` runs in one process
 * (pretrain → SFT → generate + oracle rankings → reward model → PPO, and DPO beside it), launched through
 * the queue instead, so any worker runs it and the dashboard shows it as a chain.
 */

import type { Database } from "@rlhf/core/db";
import { demoStages, seedDemo } from "@rlhf/core/demo";
import { type LaunchedRun, launchPipeline, type PipelineStep } from "@rlhf/core/queue";
import { runInputs } from "@rlhf/core/schema";

/** The stage settings, shared with `rlhf pipeline --demo` (they live in @rlhf/core/demo). */
export { demoStages };

/** The demo chain as pipeline steps: each stage refers to the ones it consumes as `run:<key>`. */
export function demoPipelineSteps(
  options: { quick?: boolean; seed?: number; name?: string } = {},
): PipelineStep[] {
  const quick = options.quick ?? false;
  const stages = demoStages(quick, options.seed ?? 1234);
  const name = options.name ?? (quick ? "demo-quick" : "demo");
  const step = (key: keyof typeof stages, kind: PipelineStep["kind"], refs: Record<string, string> = {}) => ({
    key,
    kind,
    name: `${name}-${key}`,
    config: { ...stages[key], ...refs },
  });
  return [
    step("pretrain", "pretrain"),
    step("sft", "sft", { init: "run:pretrain" }),
    step("generate", "generate", { checkpoint: "run:sft" }),
    step("reward", "reward", { init: "run:sft" }),
    step("ppo", "ppo", { policy: "run:sft", rewardModel: "run:reward" }),
    step("dpo", "dpo", { policy: "run:sft" }),
  ];
}

/**
 * Seed the demo datasets (once) and queue the chain. The reward model and DPO train on the rankings the
 * generate step writes, which no config field refers to: those two edges are added to `run_inputs` right
 * after the launch, while both runs still wait for SFT, so no worker can start them before generate ends.
 */
export async function launchDemoPipeline(
  database: Database,
  options: { quick?: boolean; seed?: number } = {},
): Promise<{ pipelineId: string; runs: LaunchedRun[] }> {
  await seedDemo(database.db);
  const launched = await launchPipeline(database, demoPipelineSteps(options));
  const id = (key: string) => launched.runs.find((r) => r.name.endsWith(`-${key}`))!.id;
  await database.db.insert(runInputs).values([
    { runId: id("reward"), parentRunId: id("generate"), role: "completions" },
    { runId: id("dpo"), parentRunId: id("generate"), role: "completions" },
  ]);
  return launched;
}
