/**
 * The demo project's oracle experiment, end to end (the chain of @rlhf/core/demo's demoChain): pretrain →
 * SFT → generate completions → oracle rankings → reward model, then from the SFT model PPO and GRPO on the
 * reward model, GRPO on the oracle itself, RLOO, and DPO on the rankings. Every stage is a run of the
 * workbench (linked by `run_inputs`, sharing a pipeline id), so the dashboard shows it as a chain. At the
 * end every policy is sampled on the same held-out prompts and compared by oracle score and by KL to the
 * SFT model.
 *
 * Run again after an interruption (a killed process, Ctrl-C, a long database outage), it continues the
 * unfinished pipeline of the same settings (./resume.ts): finished stages are reused, never trained again;
 * the interrupted one resumes from its latest checkpoint. One process at a time runs a pipeline
 * (./lock.ts); a second is refused, naming the first.
 */
import { randomUUID } from "node:crypto";
import { type Database, untilReachable } from "@rlhf/core/db";
import {
  DEFAULT_DEMO_SEED,
  DEMO_DATASETS,
  type DemoChainStep,
  type DemoLanguage,
  demoChainOf,
  demoRunName,
  demoStages,
  seedDemo,
  wireDemoStep,
} from "@rlhf/core/demo";
import { createRun, latestCheckpoint, resolveCheckpointRef } from "@rlhf/core/queue";
import { loadCheckpoint } from "../checkpoint";
import { loadPrompts } from "../data";
import { type ExecuteOptions, type ExecuteResult, executeRun } from "../jobs/execute";
import { evaluatePolicy, type PolicyEvaluation } from "../rl/evaluate";
import { acquirePipelineLock } from "./lock";
import { type EarlierPipeline, findEarlierPipeline, planStage, takeOverAbandoned } from "./resume";

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
  /** Stopped: the running stage checkpoints and is handed back, for the next run of the command to resume. */
  signal?: AbortSignal;
  /**
   * A new pipeline even if an unfinished one of these settings exists (by default it is continued: its
   * succeeded stages reused, its interrupted one resumed from its latest checkpoint).
   */
  fresh?: boolean;
  /** A database outage longer than this stops the running stage, which resumes when it answers (default 300 s). */
  outageLimitSeconds?: number;
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
  /** What this invocation did with each stage: reused a succeeded run, resumed an interrupted one, or a new run. */
  stages: Record<string, "reused" | "resumed" | "new">;
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
  const runName = (key: string) => demoRunName({ quick, name: options.name }, key);
  // The lock's holder gone for good (another process took it during an outage): stop, as for Ctrl-C.
  const lost = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, lost.signal]) : lost.signal;
  const lock = await acquirePipelineLock(database.url, runName("*"), {
    echo,
    onLost: (holder) => {
      echo(`stopping: ${holder}`);
      lost.abort("shutdown");
    },
  });
  try {
    const wait = waitForDatabase(echo, signal);
    const { language } = await wait(() => seedDemo(database.db, { language: options.language }));
    const chain = demoChainOf({ quick, seed, language });
    const earlier = options.fresh
      ? undefined
      : await wait(() => findEarlierPipeline(database, chain, runName));
    if (earlier) echo(describeEarlier(earlier, chain.length));
    const pipelineId = earlier?.pipelineId ?? randomUUID();
    const trained = await runStages(database, chain, {
      ...options,
      echo,
      signal,
      runName,
      pipelineId,
      earlier,
    });
    const evaluation = await evaluateDemo(database, trained.ids, {
      quick,
      seed,
      language,
      echo,
      wait,
      onStage: options.onStage,
    });
    const rm = trained.summaries.reward ?? {};
    return {
      pipelineId,
      runs: trained.ids,
      stages: trained.stages,
      rewardModel: {
        evalAccuracy: Number(rm["eval/accuracy"] ?? Number.NaN),
        evalPairs: typeof rm.pairs_eval === "number" ? rm.pairs_eval : null,
      },
      policies: evaluation,
      stageSeconds: trained.stageSeconds,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await lock.release();
  }
}

/** A query of the pipeline's own that waits out a database outage, saying so once. */
function waitForDatabase(echo: (line: string) => void, signal: AbortSignal) {
  const onOutage = (event: { state: "unreachable"; error: string } | { state: "back"; seconds: number }) =>
    echo(
      event.state === "unreachable"
        ? `database unreachable (${event.error}); waiting for it`
        : `database answers again after ${event.seconds.toFixed(1)} s`,
    );
  return <T>(fn: () => Promise<T>) => untilReachable(fn, { onOutage, signal });
}

function describeEarlier(earlier: EarlierPipeline, stages: number): string {
  const done = [...earlier.runs.values()].filter((run) => run.status === "succeeded").length;
  return done === stages
    ? `the demo pipeline ${earlier.pipelineId} of these settings has all ${stages} stages done: evaluating them again (--fresh trains a new one)`
    : `continuing the demo pipeline ${earlier.pipelineId} of these settings (${done} of ${stages} stages done; --fresh starts a new one)`;
}

interface StagesOptions extends DemoPipelineOptions {
  echo: (line: string) => void;
  signal: AbortSignal;
  runName: (key: string) => string;
  pipelineId: string;
  earlier: EarlierPipeline | undefined;
}

/**
 * Each stage: reuse its succeeded run, resume its interrupted one, or create its run, linked to its
 * inputs, and run it here; stop the pipeline if it fails.
 */
async function runStages(database: Database, chain: DemoChainStep[], options: StagesOptions) {
  const { echo, signal } = options;
  const wait = waitForDatabase(echo, signal);
  const ids: Record<string, string> = {};
  const stages: Record<string, "reused" | "resumed" | "new"> = {};
  const stageSeconds: Record<string, number> = {};
  const summaries: Record<string, Record<string, unknown>> = {};
  for (const step of chain) {
    const { key, kind } = step;
    options.onStage?.(key);
    if (signal.aborted)
      throw new Error(`the pipeline was stopped before ${key}; run the same command again to continue it`);
    let plan = planStage(options.earlier?.runs.get(key));
    // Still marked running: wait until its process is known to be gone, then plan with its row as it is.
    if (plan.action === "resume" && plan.run.status === "running")
      plan = planStage(await takeOverAbandoned(database, plan.run, echo, signal));
    if (plan.action === "reuse") {
      const { run } = plan;
      echo(`${key}: done (run ${run.id}), reused`);
      ids[key] = run.id;
      stages[key] = "reused";
      summaries[key] = run.summary;
      if (run.startedAt && run.finishedAt)
        stageSeconds[key] = (run.finishedAt.getTime() - run.startedAt.getTime()) / 1000;
      continue;
    }
    let runId: string;
    if (plan.action === "resume") {
      runId = plan.run.id;
      const latest = await wait(() => latestCheckpoint(database.db, runId));
      echo(
        latest
          ? `${key}: resuming from step ${latest.step} (run ${runId})`
          : `${key}: interrupted before its first checkpoint; starting it again (run ${runId})`,
      );
    } else {
      if (plan.previous)
        echo(
          `${key}: ${plan.previous.status} last time (run ${plan.previous.id}${plan.previous.error ? `: ${plan.previous.error}` : ""}); a new run`,
        );
      const { config, inputs } = wireDemoStep(step, ids);
      const run = await wait(() =>
        createRun(database, {
          kind,
          config,
          name: options.runName(key),
          pipelineId: options.pipelineId,
          inputs,
        }),
      );
      runId = run.id;
      echo(`▶ ${key} (${kind}) — run ${runId}`);
    }
    ids[key] = runId;
    stages[key] = plan.action === "resume" ? "resumed" : "new";
    const stageStart = Date.now();
    const result = await executeStage(database, runId, key, { ...options, echo, signal });
    stageSeconds[key] = (Date.now() - stageStart) / 1000;
    summaries[key] = result.summary ?? {};
  }
  return { ids, stages, stageSeconds, summaries };
}

/**
 * Run a stage's run here to its end. A database outage longer than the outage limit stops a stage with a
 * checkpoint and hands its run back to the queue; no worker takes it here, so the pipeline resumes it
 * itself, from that checkpoint. Stopped (Ctrl-C) it is handed back too, and the next run of the command
 * resumes it.
 */
async function executeStage(
  database: Database,
  runId: string,
  key: string,
  options: { echo: (line: string) => void; signal: AbortSignal; outageLimitSeconds?: number },
): Promise<ExecuteResult> {
  const { echo, signal } = options;
  const execute: ExecuteOptions = {
    echo: (line) => echo(`  ${line}`),
    signal,
    outageLimitSeconds: options.outageLimitSeconds,
  };
  let result = await executeRun(database, runId, execute);
  for (let resumed = 0; result.status === "requeued" && !signal.aborted && resumed < 3; resumed++) {
    echo(`  ${key} was handed back (${result.error ?? "stopped"}); resuming it here from its checkpoint`);
    result = await executeRun(database, runId, execute);
  }
  if (result.status === "requeued" && signal.aborted)
    throw new Error(
      `the pipeline was stopped during ${key}: its run ${runId} checkpointed; run the same command again to resume it`,
    );
  if (result.status !== "succeeded") throw new Error(`stage ${key} ${result.status}: ${result.error ?? ""}`);
  return result;
}

/** Every policy sampled on the same held-out prompts, with its KL to the SFT model. */
async function evaluateDemo(
  database: Database,
  ids: Record<string, string>,
  options: {
    quick: boolean;
    seed: number;
    language: DemoLanguage;
    echo: (line: string) => void;
    wait: <T>(fn: () => Promise<T>) => Promise<T>;
    onStage?: (stage: string) => void;
  },
): Promise<DemoPipelineResult["policies"]> {
  const { echo, wait } = options;
  const settings = demoStages(options.quick, options.seed, options.language).evaluation;
  const ref = (key: string) => wait(() => resolveCheckpointRef(database, `run:${ids[key]}`));
  options.onStage?.("evaluate");
  echo(`▶ evaluate: ${DEMO_POLICIES.map(([, label]) => label).join(", ")} on the held-out prompts`);
  const prompts = await wait(() => loadPrompts(database, DEMO_DATASETS.prompts, "eval"));
  const reference = await loadCheckpoint(await ref("sft"), { trainable: false });
  const policies = {} as DemoPipelineResult["policies"];
  try {
    for (const [key] of DEMO_POLICIES) {
      const policy = key === "sft" ? reference : await loadCheckpoint(await ref(key), { trainable: false });
      try {
        policies[key] = await evaluatePolicy(
          policy.model,
          reference.model,
          reference.tokenizer,
          prompts,
          settings,
        );
      } finally {
        if (policy !== reference) policy.model.dispose();
      }
    }
  } finally {
    reference.model.dispose();
  }
  return policies;
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
    "policy          samples   oracle score (± s.e.)   Δ vs SFT (± s.e.)   KL to SFT, nats (± s.e.)   ended   VADER (± s.e.)   distinct-2   stage time",
  ];
  for (const [key, label] of DEMO_POLICIES) {
    const p = result.policies[key];
    const diff = p.oracleMean - sft.oracleMean;
    const diffErr = Math.sqrt(p.oracleStderr ** 2 + sft.oracleStderr ** 2);
    const seconds = result.stageSeconds[key];
    lines.push(
      `${label.padEnd(15)} ${String(p.samples).padStart(7)}   ${`${f(p.oracleMean)} ± ${f(p.oracleStderr)}`.padStart(21)}   ${
        key === "sft" ? "".padStart(17) : `${diff >= 0 ? "+" : ""}${f(diff)} ± ${f(diffErr)}`.padStart(17)
      }   ${`${f(p.klMean)} ± ${f(p.klStderr)}`.padStart(24)}   ${`${f(p.endedShare * 100, 0)}%`.padStart(5)}   ${(
        p.vaderMean === null ? "n/a" : `${f(p.vaderMean)} ± ${f(p.vaderStderr ?? Number.NaN)}`
      ).padStart(14)}   ${f(p.distinct2).padStart(10)}   ${
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
