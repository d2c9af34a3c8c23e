/**
 * DPO's β on the demo's oracle experiment: from a finished demo pipeline's SFT model and oracle rankings,
 * train DPO once per β (the demo's other DPO settings unchanged) and sample each policy on the held-out
 * prompts as `rlhf pipeline --demo` does, beside SFT: oracle score, KL to SFT and the share of responses
 * that still end. β is DPO's only pull toward the reference model; too small and the policy drifts far
 * (and, on the demo, stops ending its responses: the rejected side tends to be the longer one).
 *
 *   DATABASE_URL=… pnpm rlhf pipeline --demo             # once: the SFT model and the oracle rankings
 *   DATABASE_URL=… pnpm bench:dpo-beta [--betas 0.1,0.3,1] [--sft demo-sft] [--seed 1234] [--json]
 *
 * Output: a line per policy. Each β trains a new run named `dpo-beta-<β>-<time>` (kept, so the dashboard
 * can compare them).
 */
import os from "node:os";
import { openDatabase } from "@rlhf/core/db";
import { demoStages } from "@rlhf/core/demo";
import { resolveCheckpointRef } from "@rlhf/core/queue";
import { initBackend } from "@rlhf/trainer/backend";
import type { PolicyEvaluation } from "@rlhf/trainer/rl/evaluate";
import { loadAverage, plainRows, type SweepRow, sweepPolicies } from "./policy-sweep";

const argv = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? (argv[i + 1] as string) : fallback;
};
const betas = option("betas", "0.1,0.3,1").split(",").map(Number);
const sftName = option("sft", "demo-sft");
const seed = Number(option("seed", "1234"));
const asJson = argv.includes("--json");
const say = (line: string) => {
  if (!asJson) console.log(line);
};

async function main(): Promise<void> {
  if (betas.some((b) => !(b > 0)))
    throw new Error(`--betas: expected positive numbers, got ${option("betas", "")}`);
  say(`${loadAverage()}, ${os.cpus().length} cores`);
  const database = await openDatabase();
  try {
    await initBackend("wasm");
    const stages = demoStages(false, seed);
    const sftRef = `run:${sftName}`;
    const sftPath = await resolveCheckpointRef(database, sftRef).catch((error: Error) => {
      throw new Error(`${error.message}\nrun \`pnpm rlhf pipeline --demo\` first (it trains ${sftName})`);
    });
    const rows = await sweepPolicies<{ beta: number | null }>(database, {
      bench: "dpo-beta",
      sftPath,
      sft: { beta: null },
      variants: betas.map((beta) => ({
        runName: `dpo-beta-${beta}`,
        kind: "dpo",
        config: { ...stages.dpo, beta, policy: sftRef },
        fields: { beta },
      })),
      evaluation: stages.evaluation,
      report: (row, sft) => say(format(row, sft)),
    });
    if (asJson) {
      console.log(JSON.stringify({ cores: os.cpus().length, loadavg: os.loadavg(), rows: plainRows(rows) }));
    }
    say(loadAverage());
  } finally {
    await database.close();
  }
}

function format(row: SweepRow<{ beta: number | null }>, sft: PolicyEvaluation): string {
  const e = row.evaluation;
  const f = (x: number, d = 2) => x.toFixed(d);
  const delta =
    row.beta === null
      ? ""
      : `Δ ${e.oracleMean >= sft.oracleMean ? "+" : ""}${f(e.oracleMean - sft.oracleMean)}`;
  return [
    `${row.beta === null ? "SFT" : `β = ${row.beta}`}`.padEnd(10),
    `oracle ${f(e.oracleMean)} ± ${f(e.oracleStderr)}`.padEnd(24),
    delta.padEnd(10),
    `KL ${f(e.klMean)} ± ${f(e.klStderr)} nats`.padEnd(24),
    `ended ${f(e.endedShare * 100, 0)}%`.padEnd(12),
    row.beta === null ? "" : `trained in ${f(row.seconds, 0)} s (${row.policy})`,
  ].join(" ");
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
