/**
 * What the sweep benchmarks share (dpo-beta.ts, online-rl.ts): from a finished demo's SFT model, train one
 * run per variant and sample each policy on the held-out prompts as `rlhf pipeline --demo` does, beside SFT
 * (oracle score, KL to SFT, share ended, wall time). Each variant's run is kept, named
 * `<runName>-<time>`, so the dashboard can compare them.
 */
import os from "node:os";
import type { JobKind } from "@rlhf/core/configs";
import type { Database } from "@rlhf/core/db";
import { DEMO_DATASETS } from "@rlhf/core/demo";
import { createRun, resolveCheckpointRef } from "@rlhf/core/queue";
import { executeRun } from "@rlhf/trainer";
import { loadCheckpoint } from "@rlhf/trainer/checkpoint";
import { loadPrompts } from "@rlhf/trainer/data";
import { evaluatePolicy, type PolicyEvaluation } from "@rlhf/trainer/rl/evaluate";

/** A policy's line: `fields` are the bench's own (e.g. β), beside the run's name, time and evaluation. */
export type SweepRow<F> = F & { policy: string; seconds: number; evaluation: PolicyEvaluation };

export interface SweepVariant<F> {
  runName: string;
  kind: JobKind;
  config: Record<string, unknown>;
  fields: F;
}

export async function sweepPolicies<F extends object>(
  database: Database,
  o: {
    /** Names the tfjs variables: tsx may load the trainer's modules twice, each numbering from gpt1. */
    bench: string;
    sftPath: string;
    /** SFT's own fields (e.g. `{ beta: null }`). */
    sft: F;
    variants: SweepVariant<F>[];
    evaluation: { perPrompt: number; maxNewTokens: number; temperature: number; seed: number };
    /** Called with each row as it is measured, SFT's first. */
    report: (row: SweepRow<F>, sft: PolicyEvaluation) => void;
  },
): Promise<SweepRow<F>[]> {
  const prompts = await loadPrompts(database, DEMO_DATASETS.prompts, "eval");
  const reference = await loadCheckpoint(o.sftPath, { trainable: false, name: `${o.bench}/reference` });
  const rows: SweepRow<F>[] = [];
  const add = (row: SweepRow<F>) => {
    rows.push(row);
    o.report(row, rows[0]!.evaluation);
  };
  try {
    const evaluate = (model: typeof reference.model) =>
      evaluatePolicy(model, reference.model, reference.tokenizer, prompts, o.evaluation);
    add({ ...o.sft, policy: "SFT", seconds: 0, evaluation: await evaluate(reference.model) });
    for (const variant of o.variants) {
      const name = `${variant.runName}-${new Date().toISOString().slice(11, 19).replace(/:/g, "")}`;
      const run = await createRun(database, { name, kind: variant.kind, config: variant.config });
      const started = Date.now();
      const result = await executeRun(database, run.id, {});
      if (result.status !== "succeeded") throw new Error(`${name} ${result.status}: ${result.error ?? ""}`);
      const seconds = (Date.now() - started) / 1000;
      const trained = await loadCheckpoint(await resolveCheckpointRef(database, `run:${run.id}`), {
        trainable: false,
        name: `${o.bench}/${variant.runName}`,
      });
      try {
        add({ ...variant.fields, policy: name, seconds, evaluation: await evaluate(trained.model) });
      } finally {
        trained.model.dispose();
      }
    }
  } finally {
    reference.model.dispose();
  }
  return rows;
}

/** Rows for --json: the figures without the sampled examples. */
export function plainRows<F>(rows: SweepRow<F>[]) {
  return rows.map(({ evaluation: { examples: _examples, ...figures }, ...row }) => ({ ...row, ...figures }));
}

export function loadAverage(): string {
  return `load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`;
}
