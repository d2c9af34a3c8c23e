/**
 * GRPO and RLOO on the demo's oracle experiment, one setting at a time: from a finished demo pipeline's SFT
 * model and reward model, train the demo's online stages (GRPO on the reward model, GRPO on the oracle,
 * RLOO; PPO for comparison) with some settings changed, and sample each policy on the held-out prompts as
 * `rlhf pipeline --demo` does, beside SFT: oracle score, Δ vs SFT, KL to SFT, share ended, wall time.
 *
 *   DATABASE_URL=… pnpm rlhf pipeline --demo        # once: the SFT model and the reward model
 *   DATABASE_URL=… pnpm bench:online-rl [--stages grpo,grpo-oracle,rloo] \
 *       [--set learningRate=2e-4 --set beta=0.02 …] [--sft demo-sft] [--reward demo-reward] [--json]
 *
 * Every stage trains a new run named `<stage>-bench-<time>` (kept, so the dashboard can compare them).
 */
import os from "node:os";
import { openDatabase } from "@rlhf/core/db";
import { type DemoStageKey, demoChain, demoStages, replaceStageRefs } from "@rlhf/core/demo";
import { resolveCheckpointRef } from "@rlhf/trainer";
import { initBackend } from "@rlhf/trainer/backend";
import type { PolicyEvaluation } from "@rlhf/trainer/rl/evaluate";
import { loadAverage, plainRows, type SweepRow, sweepPolicies } from "./policy-sweep";

const argv = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? (argv[i + 1] as string) : fallback;
};
const stageKeys = option("stages", "grpo,grpo-oracle,rloo").split(",") as DemoStageKey[];
/** `--set key=value` (a JSON value, else a string), applied to every stage's config. */
const overrides = Object.fromEntries(
  argv
    .flatMap((arg, i) => (arg === "--set" && argv[i + 1] ? [argv[i + 1]!] : []))
    .map((pair) => {
      const [key, ...rest] = pair.split("=");
      const text = rest.join("=");
      try {
        return [key!, JSON.parse(text)];
      } catch {
        return [key!, text];
      }
    }),
);
const seed = Number(option("seed", "1234"));
const asJson = argv.includes("--json");
const say = (line: string) => {
  if (!asJson) console.log(line);
};

async function main(): Promise<void> {
  say(`${loadAverage()}, ${os.cpus().length} cores`);
  const database = await openDatabase();
  try {
    await initBackend("wasm");
    const refs: Record<string, string> = {
      sft: `run:${option("sft", "demo-sft")}`,
      reward: `run:${option("reward", "demo-reward")}`,
    };
    const sftPath = await resolveCheckpointRef(database, refs.sft!).catch((error: Error) => {
      throw new Error(`${error.message}\nrun \`pnpm rlhf pipeline --demo\` first`);
    });
    const chain = demoChain(false, seed);
    const variants = stageKeys.map((key) => {
      const step = chain.find((s) => s.key === key);
      if (!step) throw new Error(`--stages: no demo stage "${key}"`);
      const config = replaceStageRefs({ ...step.config, ...overrides }, (k) => refs[k]) as Record<
        string,
        unknown
      >;
      return { runName: `${key}-bench`, kind: step.kind, config, fields: {} };
    });
    const rows = await sweepPolicies(database, {
      bench: "online-rl",
      sftPath,
      sft: {},
      variants,
      evaluation: demoStages(false, seed).evaluation,
      report: (row, sft) => say(format(row, sft)),
    });
    if (asJson) {
      console.log(
        JSON.stringify({ overrides, cores: os.cpus().length, loadavg: os.loadavg(), rows: plainRows(rows) }),
      );
    }
    say(loadAverage());
  } finally {
    await database.close();
  }
}

function format(row: SweepRow<object>, sft: PolicyEvaluation) {
  const e = row.evaluation;
  const f = (x: number, d = 2) => x.toFixed(d);
  const diff = e.oracleMean - sft.oracleMean;
  const diffErr = Math.sqrt(e.oracleStderr ** 2 + sft.oracleStderr ** 2);
  return [
    row.policy.padEnd(28),
    `oracle ${f(e.oracleMean)} ± ${f(e.oracleStderr)}`.padEnd(22),
    row.policy === "SFT" ? "".padEnd(20) : `Δ ${diff >= 0 ? "+" : ""}${f(diff)} ± ${f(diffErr)}`.padEnd(20),
    `KL ${f(e.klMean)} ± ${f(e.klStderr)}`.padEnd(18),
    `ended ${f(e.endedShare * 100, 0)}%`.padEnd(11),
    row.policy === "SFT" ? "" : `${f(row.seconds / 60, 1)} min`,
  ].join(" ");
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
