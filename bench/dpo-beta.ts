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
import { openDatabase } from "../packages/core/src/db";
import { runs } from "../packages/core/src/db/schema";
import { DEMO_DATASETS, demoStages } from "../packages/core/src/demo";
import { initBackend } from "../packages/trainer/src/backend";
import { loadCheckpoint } from "../packages/trainer/src/checkpoint";
import { loadPrompts } from "../packages/trainer/src/data";
import { executeRun, resolveCheckpointRef } from "../packages/trainer/src/jobs/execute";
import { evaluatePolicy, type PolicyEvaluation } from "../packages/trainer/src/rl/evaluate";

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
  say(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}, ${os.cpus().length} cores`,
  );
  const database = await openDatabase();
  try {
    await initBackend("wasm");
    const stages = demoStages(false, seed);
    const sftRef = `run:${sftName}`;
    const sftPath = await resolveCheckpointRef(database, sftRef).catch((error: Error) => {
      throw new Error(`${error.message}\nrun \`pnpm rlhf pipeline --demo\` first (it trains ${sftName})`);
    });
    const prompts = await loadPrompts(database, DEMO_DATASETS.prompts, "eval");
    // Named: tsx loads this file as CommonJS, so the trainer's modules may exist twice in this process, each
    // numbering its models from gpt1; tfjs variable names must be unique.
    const reference = await loadCheckpoint(sftPath, { trainable: false, name: "dpo-beta/reference" });
    const rows: { policy: string; beta: number | null; seconds: number; evaluation: PolicyEvaluation }[] = [];
    try {
      const evaluate = (model: typeof reference.model) =>
        evaluatePolicy(model, reference.model, reference.tokenizer, prompts, stages.evaluation);
      rows.push({ policy: "SFT", beta: null, seconds: 0, evaluation: await evaluate(reference.model) });
      say(format(rows.at(-1)!, rows[0]!.evaluation));

      for (const beta of betas) {
        const name = `dpo-beta-${beta}-${new Date().toISOString().slice(11, 19).replace(/:/g, "")}`;
        const [run] = await database.db
          .insert(runs)
          .values({ name, kind: "dpo", config: { ...stages.dpo, beta, policy: sftRef } })
          .returning({ id: runs.id });
        const started = Date.now();
        const result = await executeRun(database, run!.id, {});
        if (result.status !== "succeeded") throw new Error(`${name} ${result.status}: ${result.error ?? ""}`);
        const seconds = (Date.now() - started) / 1000;
        const trained = await loadCheckpoint(await resolveCheckpointRef(database, `run:${run!.id}`), {
          trainable: false,
          name: `dpo-beta/${beta}`,
        });
        try {
          rows.push({ policy: name, beta, seconds, evaluation: await evaluate(trained.model) });
        } finally {
          trained.model.dispose();
        }
        say(format(rows.at(-1)!, rows[0]!.evaluation));
      }
    } finally {
      reference.model.dispose();
    }
    if (asJson) {
      const plain = rows.map(({ evaluation: { examples: _examples, ...figures }, ...row }) => ({
        ...row,
        ...figures,
      }));
      console.log(JSON.stringify({ cores: os.cpus().length, loadavg: os.loadavg(), rows: plain }));
    }
    say(
      `load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
    );
  } finally {
    await database.close();
  }
}

function format(
  row: { policy: string; beta: number | null; seconds: number; evaluation: PolicyEvaluation },
  sft: PolicyEvaluation,
): string {
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
