/**
 * The demo project's oracle experiment, end to end: pretrain → SFT → generate completions → oracle
 * rankings → reward model → PPO, with DPO as a second branch from the same rankings. Every stage is a
 * run of the workbench (linked by `run_inputs`, sharing a pipeline id), so the dashboard shows it as a
 * chain. At the end the SFT, PPO and DPO policies are sampled on the same held-out prompts and compared
 * by oracle score and by KL to the SFT model.
 */
import { randomUUID } from "node:crypto";
import type { JobKind } from "@rlhf/core/configs";
import type { Database } from "@rlhf/core/db";
import { DEMO_DATASETS, demoStages, seedDemo } from "@rlhf/core/demo";
import { runInputs, runs } from "@rlhf/core/schema";
import { loadCheckpoint } from "../checkpoint";
import { loadPrompts } from "../data";
import { type ExecuteOptions, executeRun, resolveCheckpointRef } from "../jobs/execute";
import { evaluatePolicy, type PolicyEvaluation } from "../rl/evaluate";

export interface DemoPipelineOptions {
  /** The CI smoke test: a smaller model and far fewer steps; looser expectations. */
  quick?: boolean;
  seed?: number;
  /** Prefix of the run names (default "demo"). */
  name?: string;
  echo?: (line: string) => void;
  onStage?: (stage: string) => void;
  signal?: AbortSignal;
}

export interface DemoPipelineResult {
  pipelineId: string;
  runs: Record<string, string>;
  rewardModel: { evalAccuracy: number; evalPairs: number | null };
  policies: Record<"sft" | "ppo" | "dpo", PolicyEvaluation>;
  seconds: number;
}

export { demoStages };

export async function runDemoPipeline(
  database: Database,
  options: DemoPipelineOptions = {},
): Promise<DemoPipelineResult> {
  const started = Date.now();
  const seed = options.seed ?? 1234;
  const quick = options.quick ?? false;
  const name = options.name ?? (quick ? "demo-quick" : "demo");
  const echo = options.echo ?? (() => {});
  const stages = demoStages(quick, seed);
  const pipelineId = randomUUID();
  const ids: Record<string, string> = {};
  await seedDemo(database.db);

  /** Create the stage's run, linked to its inputs, and run it here; stop the pipeline if it fails. */
  const stage = async (
    key: string,
    kind: JobKind,
    config: Record<string, unknown>,
    inputs: [string, string][],
  ) => {
    options.onStage?.(key);
    if (options.signal?.aborted) throw new Error(`the pipeline was stopped before ${key}`);
    const [run] = await database.db
      .insert(runs)
      .values({ name: `${name}-${key}`, kind, config, pipelineId })
      .returning({ id: runs.id });
    ids[key] = run!.id;
    if (inputs.length > 0) {
      await database.db
        .insert(runInputs)
        .values(inputs.map(([parent, role]) => ({ runId: run!.id, parentRunId: ids[parent]!, role })));
    }
    echo(`▶ ${key} (${kind}) — run ${run!.id}`);
    const execute: ExecuteOptions = { echo: (line) => echo(`  ${line}`), signal: options.signal };
    const result = await executeRun(database, run!.id, execute);
    if (result.status !== "succeeded")
      throw new Error(`stage ${key} ${result.status}: ${result.error ?? ""}`);
    return result.summary ?? {};
  };
  const ref = (key: string) => `run:${ids[key]}`;

  await stage("pretrain", "pretrain", stages.pretrain, []);
  await stage("sft", "sft", { ...stages.sft, init: ref("pretrain") }, [["pretrain", "checkpoint"]]);
  await stage("generate", "generate", { ...stages.generate, checkpoint: ref("sft") }, [
    ["sft", "checkpoint"],
  ]);
  const rm = await stage("reward", "reward", { ...stages.reward, init: ref("sft") }, [
    ["sft", "checkpoint"],
    ["generate", "completions"],
  ]);
  await stage("ppo", "ppo", { ...stages.ppo, policy: ref("sft"), rewardModel: ref("reward") }, [
    ["sft", "reference"],
    ["reward", "reward_model"],
  ]);
  await stage("dpo", "dpo", { ...stages.dpo, policy: ref("sft") }, [
    ["sft", "reference"],
    ["generate", "completions"],
  ]);

  // Evaluation: the three policies on the same held-out prompts.
  options.onStage?.("evaluate");
  echo("▶ evaluate: SFT, PPO and DPO policies on the held-out prompts");
  const prompts = await loadPrompts(database, DEMO_DATASETS.prompts, "eval");
  const reference = await loadCheckpoint(await resolveCheckpointRef(database, ref("sft")), {
    trainable: false,
  });
  const policies = {} as DemoPipelineResult["policies"];
  try {
    for (const key of ["sft", "ppo", "dpo"] as const) {
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
    "policy   samples   oracle score (± s.e.)   Δ vs SFT (± s.e.)   KL to SFT, nats (± s.e.)   ended",
  ];
  for (const key of ["sft", "ppo", "dpo"] as const) {
    const p = result.policies[key];
    const diff = p.oracleMean - sft.oracleMean;
    const diffErr = Math.sqrt(p.oracleStderr ** 2 + sft.oracleStderr ** 2);
    lines.push(
      `${key.toUpperCase().padEnd(8)} ${String(p.samples).padStart(7)}   ${`${f(p.oracleMean)} ± ${f(p.oracleStderr)}`.padStart(21)}   ${
        key === "sft" ? "".padStart(17) : `${diff >= 0 ? "+" : ""}${f(diff)} ± ${f(diffErr)}`.padStart(17)
      }   ${`${f(p.klMean)} ± ${f(p.klStderr)}`.padStart(24)}   ${f(p.endedShare * 100, 0)}%`,
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
