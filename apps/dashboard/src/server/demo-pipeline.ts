/**
 * "Run the demo pipeline" from the dashboard: the chain `rlhf pipeline --demo` runs in one process
 * (pretrain → SFT → generate + oracle rankings → reward model → PPO, and DPO beside it), launched through
 * the queue instead, so any worker runs it and the dashboard shows it as a chain.
 */

import type { Database } from "@rlhf/core/db";
import { DEMO_DATASETS, seedDemo } from "@rlhf/core/demo";
import { type LaunchedRun, launchPipeline, type PipelineStep } from "@rlhf/core/queue";
import { runInputs } from "@rlhf/core/schema";

/**
 * The stage settings of the demo pipeline. A copy of `demoStages` in packages/trainer/src/pipeline/demo.ts,
 * which the dashboard cannot import (it would pull tfjs into the web server); test/demo-pipeline.test.ts
 * fails when the two disagree. It belongs in @rlhf/core/demo, next to DEMO_DATASETS, the only thing it uses.
 */
export function demoStages(quick: boolean, seed: number) {
  const model = quick
    ? { preset: "tiny", nLayer: 2, nEmbd: 64, nHead: 2, nPositions: 96 }
    : { preset: "tiny", nPositions: 96 };
  return {
    pretrain: {
      seed,
      dataset: DEMO_DATASETS.corpus,
      model,
      tokenizer: { vocabSize: quick ? 384 : 512 },
      maxSteps: quick ? 60 : 300,
      batchSize: 16,
      blockSize: 64,
      learningRate: 2e-3,
      minLearningRate: 2e-4,
      warmupSteps: 20,
      evalEvery: quick ? 30 : 100,
      checkpointEvery: quick ? 60 : 150,
    },
    sft: {
      seed,
      dataset: DEMO_DATASETS.sft,
      maxSteps: quick ? 40 : 300,
      batchSize: 16,
      maxLength: 95,
      learningRate: 1e-3,
      minLearningRate: 1e-4,
      warmupSteps: 10,
      evalEvery: quick ? 20 : 100,
      checkpointEvery: quick ? 40 : 300,
    },
    generate: {
      seed,
      prompts: DEMO_DATASETS.prompts,
      split: "train",
      rounds: quick ? 1 : 3,
      completionsPerPrompt: 4,
      temperature: 1,
      maxNewTokens: 40,
      dataset: DEMO_DATASETS.preferences,
      oracle: true,
    },
    reward: {
      seed,
      datasets: [DEMO_DATASETS.preferences],
      epochs: quick ? 1 : 3,
      batchSize: 8,
      maxLength: 127,
      learningRate: 3e-4,
      minLearningRate: 3e-5,
      warmupSteps: 10,
      evalEvery: quick ? 20 : 40,
      evalBatches: 1000, // every held-out ranking, so the accuracy is over all held-out pairs
      checkpointEvery: 10_000,
      normalizeSamples: quick ? 16 : 64,
    },
    ppo: {
      seed,
      prompts: DEMO_DATASETS.prompts,
      iterations: quick ? 4 : 40,
      rolloutBatchSize: 32,
      miniBatches: 2,
      ppoEpochs: 4,
      responseLength: 32,
      temperature: 0.7,
      learningRate: 1e-4,
      klCoef: 0.05,
      missingEosPenalty: 1,
      sampleEvery: quick ? 2 : 10,
      checkpointEvery: quick ? 4 : 20,
    },
    dpo: {
      seed,
      datasets: [DEMO_DATASETS.preferences],
      epochs: quick ? 1 : 2,
      batchSize: 8,
      maxLength: 127,
      beta: 0.1,
      learningRate: 1e-4,
      minLearningRate: 1e-5,
      warmupSteps: 10,
      evalEvery: quick ? 20 : 50,
      checkpointEvery: 10_000,
    },
    evaluation: { perPrompt: quick ? 2 : 8, maxNewTokens: 32, temperature: 0.7, seed: seed + 1 },
  } as const;
}

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
