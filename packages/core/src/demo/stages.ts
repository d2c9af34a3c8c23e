import type { DemoLanguage } from "./generator";
import { DEMO_DATASETS } from "./seed";

/** What pretraining and SFT sample at each evaluation, in the demo's language (the configs' defaults are English). */
const SAMPLE_PROMPTS_ZH = {
  pretrain: ["今天的天气", "我最喜欢的食物"],
  sft: ["跟我说说公园。", "讲讲我的早餐。"],
} as const;

/**
 * Stage settings of the full demo (the `tiny` preset) and of the quick smoke test. The Chinese demo trains
 * with the same settings; only the prompts its runs sample from at each evaluation are Chinese.
 */
export function demoStages(quick: boolean, seed: number, language: DemoLanguage = "en") {
  const zh = language === "zh";
  const model = quick
    ? { preset: "tiny", nLayer: 2, nEmbd: 64, nHead: 2, nPositions: 96 }
    : { preset: "tiny", nPositions: 96 };
  // GRPO and RLOO from the SFT model, with PPO's rollout length and temperature, 32 completions a round
  // as PPO's 32 rollouts an iteration. 16 rounds: bench/online-rl.ts with 40 drove GRPO on the reward model
  // to an oracle score of 13.7 at a KL of 9.4 nats (PPO: 7.0 at 5.6); it passes PPO's score by round 10.
  // The reward functions that name a run (the reward model) are filled in by demoChain.
  const groupRollout = {
    seed,
    prompts: DEMO_DATASETS.prompts,
    iterations: quick ? 4 : 16,
    promptsPerIteration: 8,
    numGenerations: 4,
    miniBatches: 2,
    numIterations: 2,
    maxCompletionLength: 32,
    temperature: 0.7,
    learningRate: 1e-4,
    evaluation: [ORACLE],
    sampleEvery: quick ? 2 : 10,
    checkpointEvery: quick ? 4 : 8,
  } as const;
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
      ...(zh ? { samplePrompts: SAMPLE_PROMPTS_ZH.pretrain } : {}),
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
      ...(zh ? { samplePrompts: SAMPLE_PROMPTS_ZH.sft } : {}),
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
      // Halfway through the quick run too: a killed `rlhf pipeline --demo --quick` resumes PPO mid-stage
      // (packages/trainer/test/pipeline-faults.test.ts kills it there).
      checkpointEvery: quick ? 2 : 20,
      evaluation: [ORACLE],
    },
    dpo: {
      seed,
      datasets: [DEMO_DATASETS.preferences],
      epochs: quick ? 1 : 2,
      batchSize: 8,
      maxLength: 127,
      // bench/dpo-beta.ts on this experiment: β = 0.1 (TRL's default) drifted 21 nats from SFT with 35% of
      // responses ending; β = 1 reached the best oracle score at 3.9 nats (PPO: 5.6), 51% ending.
      beta: 1,
      learningRate: 1e-4,
      minLearningRate: 1e-5,
      warmupSteps: 10,
      evalEvery: quick ? 20 : 50,
      checkpointEvery: 10_000,
    },
    grpo: { ...groupRollout, beta: 0.04 },
    "grpo-oracle": { ...groupRollout, beta: 0.04, rewards: [{ function: "sentiment" }, ENDED] },
    rloo: { ...groupRollout, beta: 0.05 },
    evaluation: { perPrompt: quick ? 2 : 8, maxNewTokens: 32, temperature: 0.7, seed: seed + 1 },
  } as const;
}

/** The demo's gold reward, logged by every online run beside what it optimises (never optimised by PPO). */
const ORACLE = { function: "sentiment", name: "oracle" } as const;
/** PPO's missingEosPenalty as a reward function: −1 for a completion cut at the length limit. */
const ENDED = { function: "ends", params: { score: 0, otherwise: -1 } } as const;

export type DemoStageKey = Exclude<keyof ReturnType<typeof demoStages>, "evaluation">;

/** One run of the demo chain: its config refers to the runs it consumes as `run:<key>`. */
export interface DemoChainStep {
  key: DemoStageKey;
  kind: "pretrain" | "sft" | "generate" | "reward" | "ppo" | "dpo" | "grpo" | "rloo";
  config: Record<string, unknown>;
  /** Every input run with its role; the completions edges are the ones no config field names. */
  inputs: [DemoStageKey, string][];
}

/**
 * The oracle experiment as a chain, shared by `rlhf pipeline --demo` and the dashboard's demo button:
 * pretrain → SFT → generate + oracle rankings → reward model, then from the SFT model PPO, GRPO on the
 * reward model, GRPO on the oracle itself (no reward model), RLOO, and DPO on the rankings.
 */
export function demoChain(quick: boolean, seed: number, language: DemoLanguage = "en"): DemoChainStep[] {
  const s = demoStages(quick, seed, language);
  const rewardModel = { function: "reward_model", params: { checkpoint: "run:reward" } };
  return [
    { key: "pretrain", kind: "pretrain", config: { ...s.pretrain }, inputs: [] },
    {
      key: "sft",
      kind: "sft",
      config: { ...s.sft, init: "run:pretrain" },
      inputs: [["pretrain", "checkpoint"]],
    },
    {
      key: "generate",
      kind: "generate",
      config: { ...s.generate, checkpoint: "run:sft" },
      inputs: [["sft", "checkpoint"]],
    },
    {
      key: "reward",
      kind: "reward",
      config: { ...s.reward, init: "run:sft" },
      inputs: [
        ["sft", "checkpoint"],
        ["generate", "completions"],
      ],
    },
    {
      key: "ppo",
      kind: "ppo",
      config: { ...s.ppo, policy: "run:sft", rewardModel: "run:reward" },
      inputs: [
        ["sft", "reference"],
        ["reward", "reward_model"],
      ],
    },
    {
      key: "grpo",
      kind: "grpo",
      config: { ...s.grpo, policy: "run:sft", rewards: [rewardModel, ENDED] },
      inputs: [
        ["sft", "reference"],
        ["reward", "reward_model"],
      ],
    },
    {
      key: "grpo-oracle",
      kind: "grpo",
      config: { ...s["grpo-oracle"], policy: "run:sft" },
      inputs: [["sft", "reference"]],
    },
    {
      key: "rloo",
      kind: "rloo",
      config: { ...s.rloo, policy: "run:sft", rewards: [rewardModel, ENDED] },
      inputs: [
        ["sft", "reference"],
        ["reward", "reward_model"],
      ],
    },
    {
      key: "dpo",
      kind: "dpo",
      config: { ...s.dpo, policy: "run:sft" },
      inputs: [
        ["sft", "reference"],
        ["generate", "completions"],
      ],
    },
  ];
}
