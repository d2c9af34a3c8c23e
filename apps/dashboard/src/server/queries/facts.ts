/** Model facts of a run: its architecture, parameters, tokens seen, tokens per parameter, bits per byte. */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Db } from "@rlhf/core/db";
import type { RunRecord } from "@rlhf/core/queue";
import { checkpoints } from "@rlhf/core/schema";
import { desc, eq, inArray, sql } from "@rlhf/core/trpc";
import { type Gpt2Dims, gpt2ParameterCount } from "~/lib/model-facts";
import type { LastPoint } from "./runs";

export interface ModelFacts {
  architecture: (Gpt2Dims & { n_head?: number }) | null;
  parameters: number | null;
  tokensSeen: number | null;
  /** Tokens seen from step × batch × block (a run still going), not counted by the trainer. */
  tokensEstimated: boolean;
  tokensPerParameter: number | null;
  bitsPerByte: number | null;
  /** The n-gram baseline on the same held-out batches (`eval/ngram_bits_per_byte`, see @rlhf/trainer's ngram). */
  ngramBitsPerByte: number | null;
  /** "5-gram" (the order from the run's summary `ngram_order`), else "n-gram". */
  ngramLabel: string;
  /** The final model as a compressor of held-out text, beside gzip -9 (`compress/*`, logged at a run's end). */
  compression: { bitsPerByte: number; gzipBitsPerByte: number | null; bytes: number | null } | null;
}

const num = (value: unknown): number | null =>
  typeof value === "number" && Number.isFinite(value) ? value : null;

/** The `config.json` of the newest checkpoint of these runs that this server can read (null if none). */
async function checkpointDims(db: Db, runIds: string[]): Promise<(Gpt2Dims & { n_head?: number }) | null> {
  if (runIds.length === 0) return null;
  const saved = await db
    .select({ path: checkpoints.path, runId: checkpoints.runId })
    .from(checkpoints)
    .where(inArray(checkpoints.runId, runIds))
    .orderBy(desc(checkpoints.isFinal), desc(checkpoints.step))
    .limit(20);
  // The run's own checkpoints first, then its inputs'.
  saved.sort((a, b) => runIds.indexOf(a.runId) - runIds.indexOf(b.runId));
  for (const { path: dir } of saved) {
    try {
      const config = JSON.parse(await readFile(path.join(dir, "config.json"), "utf8")) as Partial<Gpt2Dims>;
      if (config.n_embd && config.n_layer && config.vocab_size && config.n_positions)
        return config as Gpt2Dims;
    } catch {
      // Checkpoints live on the workers' shared directory; this server may not see it.
    }
  }
  return null;
}

/** The runs a run descends from (inputs, their inputs…), nearest first, with their summaries. */
async function ancestors(db: Db, runId: string) {
  const { rows } = await db.execute<{ id: string; summary: Record<string, unknown> }>(sql`
    with recursive up(id, depth) as (
      select parent_run_id, 1 from run_inputs where run_id = ${runId}
      union
      select ri.parent_run_id, up.depth + 1 from run_inputs ri join up on ri.run_id = up.id where up.depth < 8
    )
    select r.id, r.summary from up join runs r on r.id = up.id group by r.id, r.summary order by min(up.depth), r.id`);
  return rows;
}

export async function modelFacts(
  db: Db,
  run: Pick<RunRecord, "id" | "kind" | "step" | "config" | "summary">,
  latest: LastPoint[],
): Promise<ModelFacts> {
  // A fine-tuned model has its base model's architecture: look up the lineage when the run has no figures.
  const lineage = await ancestors(db, run.id);
  const architecture = await checkpointDims(db, [run.id, ...lineage.map((a) => a.id)]);
  const summary = run.summary ?? {};
  const parameters =
    num(summary.parameters) ??
    (architecture ? gpt2ParameterCount(architecture) : null) ??
    lineage.map((a) => num(a.summary?.parameters)).find((p) => p !== null) ??
    null;
  let tokensSeen = num(summary.tokens_seen);
  let tokensEstimated = false;
  if (tokensSeen === null && run.kind === "pretrain" && run.step > 0) {
    // Pretraining packs the corpus into full blocks: every step sees batch × block × accumulation tokens.
    const c = run.config as { batchSize?: number; blockSize?: number; gradAccumSteps?: number };
    if (c.batchSize && c.blockSize) {
      tokensSeen = run.step * c.batchSize * c.blockSize * (c.gradAccumSteps ?? 1);
      tokensEstimated = true;
    }
  }
  const last = (key: string) => latest.find((p) => p.key === key)?.value ?? num(summary[key]);
  const bitsPerByte = last("eval/bits_per_byte");
  const compressed = last("compress/bits_per_byte");
  return {
    architecture,
    parameters,
    tokensSeen,
    tokensEstimated,
    tokensPerParameter: tokensSeen !== null && parameters ? tokensSeen / parameters : null,
    bitsPerByte,
    ngramBitsPerByte: last("eval/ngram_bits_per_byte"),
    ngramLabel: num(summary.ngram_order) !== null ? `${num(summary.ngram_order)}-gram` : "n-gram",
    compression:
      compressed === null
        ? null
        : {
            bitsPerByte: compressed,
            gzipBitsPerByte: last("compress/gzip_bits_per_byte"),
            bytes: last("compress/bytes"),
          },
  };
}

export async function runCheckpoints(db: Db, runId: string) {
  return db
    .select({
      id: checkpoints.id,
      step: checkpoints.step,
      path: checkpoints.path,
      isFinal: checkpoints.isFinal,
      metrics: checkpoints.metrics,
      createdAt: checkpoints.createdAt,
    })
    .from(checkpoints)
    .where(eq(checkpoints.runId, runId))
    .orderBy(desc(checkpoints.step));
}
