/**
 * The demo project's oracle experiment, end to end (the chain of @rlhf/core/demo's demoChain): pretrain →
 * SFT → generate completions → oracle rankings → reward model, then from the SFT model PPO and GRPO on the
 * reward model, GRPO on the oracle itself, RLOO, and DPO on the rankings. Every stage is a run of the
 * workbench (linked by `run_inputs`, sharing a pipeline id), so the dashboard shows it as a chain. At the
 * end every policy is sampled on the same held-out prompts and compared by oracle score and by KL to the
 * SFT model.
 */
import { randomUUID } from "node:crypto";
import type { Database } from "@rlhf/core/db";
import {
  DEFAULT_DEMO_SEED,
  DEMO_DATASETS,
  type DemoLanguage,
  demoChainOf,
  demoRunName,
  demoStages,
  seedDemo,
  wireDemoStep,
} from "@rlhf/core/demo";
import { createRun, resolveCheckpointRef } from "@rlhf/core/queue";
import { loadCheckpoint } from "../checkpoint";
import { loadPrompts } from "../data";
import { type ExecuteOptions, executeRun } from "../jobs/execute";
import { evaluatePolicy, type PolicyEvaluation } from "../rl/evaluate";

export interface DemoPipelineOptions {
  /** The CI smoke test: a smaller model and far fewer steps; looser expectations. */
  quick?: boolean;
  /**
   * The demo data's language when this database has none yet (English by default); a database seeded in
   * the other language is refused by name. The runs sample in the language of the data they train on.
   */
  language?: DemoLanguage;
  seed?: number;
  /** Prefix of the run names (default "demo"). */
  name?: string;
  echo?: (line: string) => void;
  onStage?: (stage: string) => void;
  signal?: AbortSignal;
}

/** The policies the table compares, in its order, with their labels. */
export const DEMO_POLICIES = [
  ["sft", "SFT"],
  ["ppo", "PPO"],
  ["grpo", "GRPO (RM)"],
  ["grpo-oracle", "GRPO (oracle)"],
  ["rloo", "RLOO"],
  ["dpo", "DPO"],
] as const;
export type DemoPolicy = (typeof DEMO_POLICIES)[number][0];

export interface DemoPipelineResult {
  pipelineId: string;
  runs: Record<string, string>;
  rewardModel: { evalAccuracy: number; evalPairs: number | null };
  policies: Record<DemoPolicy, PolicyEvaluation>;
  /** Wall time of each stage's run, in seconds. */
  stageSeconds: Record<string, number>;
  seconds: number;
}

export async function runDemoPipeline(
  database: Database,
  options: DemoPipelineOptions = {},
): Promise<DemoPipelineResult> {
  const started = Date.now();
  const seed = options.seed ?? DEFAULT_DEMO_SEED;
  const quick = options.quick ?? false;
  const echo = options.echo ?? (() => {});
  const { language } = await seedDemo(database.db, { language: options.language });
  const stages = demoStages(quick, seed, language);
  const pipelineId = randomUUID();
  const ids: Record<string, string> = {};

  const stageSeconds: Record<string, number> = {};
  // Each stage: create its run, linked to its inputs, and run it here; stop the pipeline if it fails.
  let rm: Record<string, unknown> = {};
  for (const step of demoChainOf({ quick, seed, language })) {
    const { key, kind } = step;
    options.onStage?.(key);
    if (options.signal?.aborted) throw new Error(`the pipeline was stopped before ${key}`);
    const { config, inputs } = wireDemoStep(step, ids);
    const run = await createRun(database, {
      kind,
      config,
      name: demoRunName({ quick, name: options.name }, key),
      pipelineId,
      inputs,
    });
    ids[key] = run.id;
    echo(`▶ ${key} (${kind}) — run ${run.id}`);
    const execute: ExecuteOptions = { echo: (line) => echo(`  ${line}`), signal: options.signal };
    const stageStart = Date.now();
    let result = await executeRun(database, run.id, execute);
    // A database outage longer than the outage limit stops a stage with a checkpoint and hands its run back
    // to the queue; no worker takes it here, so the pipeline resumes it itself, from that checkpoint.
    for (
      let resumed = 0;
      result.status === "requeued" && !options.signal?.aborted && resumed < 3;
      resumed++
    ) {
      echo(`  ${key} was handed back (${result.error ?? "stopped"}); resuming it here from its checkpoint`);
      result = await executeRun(database, run.id, execute);
    }
    stageSeconds[key] = (Date.now() - stageStart) / 1000;
    if (result.status !== "succeeded")
      throw new Error(`stage ${key} ${result.status}: ${result.error ?? ""}`);
    if (key === "reward") rm = result.summary ?? {};
  }
  const ref = (key: string) => `run:${ids[key]}`;

  // Evaluation: every policy on the same held-out prompts.
  options.onStage?.("evaluate");
  echo(`▶ evaluate: ${DEMO_POLICIES.map(([, label]) => label).join(", ")} on the held-out prompts`);
  const prompts = await loadPrompts(database, DEMO_DATASETS.prompts, "eval");
  const reference = await loadCheckpoint(await resolveCheckpointRef(database, ref("sft")), {
    trainable: false,
  });
  const policies = {} as DemoPipelineResult["policies"];
  try {
    for (const [key] of DEMO_POLICIES) {
      const policy =
        key === "sft"
          ? reference
          : await loadCheckpoint(await resolveCheckpointRef(database, ref(key)), { trainable: false });
      try {
        policies[key] = await evaluatePolicy(
          policy.model,
          reference.model,
          reference.tokenizer,
          prompts,
          stages.evaluation,
        );
      } finally {
        if (policy !== reference) policy.model.dispose();
      }
    }
  } finally {
    reference.model.dispose();
  }
  return {
    pipelineId,
    runs: ids,
    rewardModel: {
      evalAccuracy: Number(rm["eval/accuracy"] ?? Number.NaN),
      evalPairs: typeof rm.pairs_eval === "number" ? rm.pairs_eval : null,
    },
    policies,
    stageSeconds,
    seconds: (Date.now() - started) / 1000,
  };
}

/** The summary table `rlhf pipeline --demo` prints. */
export function formatDemoSummary(result: DemoPipelineResult): string {
  const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");
  const sft = result.policies.sft;
  const lines = [
    "",
    `Demo pipeline ${result.pipelineId} — ${f(result.seconds / 60, 1)} min`,
    "",
    `reward model: held-out accuracy on oracle pairs ${f(result.rewardModel.evalAccuracy * 100, 1)}%${
      result.rewardModel.evalPairs ? ` (${result.rewardModel.evalPairs} pairs)` : ""
    }`,
    "",
    "policy          samples   oracle score (± s.e.)   Δ vs SFT (± s.e.)   KL to SFT, nats (± s.e.)   ended   stage time",
  ];
  for (const [key, label] of DEMO_POLICIES) {
    const p = result.policies[key];
    const diff = p.oracleMean - sft.oracleMean;
    const diffErr = Math.sqrt(p.oracleStderr ** 2 + sft.oracleStderr ** 2);
    const seconds = result.stageSeconds[key];
    lines.push(
      `${label.padEnd(15)} ${String(p.samples).padStart(7)}   ${`${f(p.oracleMean)} ± ${f(p.oracleStderr)}`.padStart(21)}   ${
        key === "sft" ? "".padStart(17) : `${diff >= 0 ? "+" : ""}${f(diff)} ± ${f(diffErr)}`.padStart(17)
      }   ${`${f(p.klMean)} ± ${f(p.klStderr)}`.padStart(24)}   ${`${f(p.endedShare * 100, 0)}%`.padStart(5)}   ${
        seconds === undefined ? "" : `${f(seconds / 60, 1)} min`.padStart(10)
      }`,
    );
  }
  lines.push(
    "",
    "runs: " +
      Object.entries(result.runs)
        .map(([k, id]) => `${k}=${id.slice(0, 8)}`)
        .join(" "),
  );
  return lines.join("\n");
}
