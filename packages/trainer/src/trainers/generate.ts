/**
 * Completions for ranking: K samples per prompt from a checkpoint become comparison tasks (one per prompt
 * and round), optionally ranked at once by the sentiment oracle. The completions record the run and
 * checkpoint that wrote them, so the labeler's leaderboard can rate models.
 *
 * A resumed run (its process killed, a worker shut down, the database away past the outage limit) goes on
 * after the tasks its earlier attempts stored: each batch of tasks is stored in one transaction, in order,
 * and sampled from a seed fixed by its position, so the dataset ends with the tasks an uninterrupted run
 * writes, each once.
 */
import type { GenerateConfig } from "@rlhf/core/configs";
import { createComparisonTasks, rankWithOracle } from "@rlhf/core/preferences";
import { checkpoints, comparisonTasks, datasets } from "@rlhf/core/schema";
import { and, count, eq, sql } from "drizzle-orm";
import { loadCheckpoint } from "../checkpoint";
import { loadPrompts } from "../data";
import { generate, hashSeed } from "../model";
import { type JobContext, JobInputError, type RunSummary } from "../train/context";

const BATCH = 16;

export async function trainGenerate(config: GenerateConfig, ctx: JobContext): Promise<RunSummary> {
  const dir = await ctx.resolveCheckpoint(config.checkpoint);
  const [source] = await ctx.database.db.select().from(checkpoints).where(eq(checkpoints.path, dir)).limit(1);
  const prompts = (
    await loadPrompts(ctx.database, config.prompts, config.split === "all" ? undefined : config.split)
  ).slice(0, config.maxPrompts);
  if (prompts.length === 0)
    throw new JobInputError(`prompts dataset "${config.prompts}" has no ${config.split} prompts`);

  // The target dataset is created on first use.
  const [existing] = await ctx.database.db.select().from(datasets).where(eq(datasets.name, config.dataset));
  if (existing && existing.kind !== "preferences") {
    throw new JobInputError(
      `dataset "${config.dataset}" is of kind ${existing.kind}; comparison tasks need a preferences dataset`,
    );
  }
  if (!existing) {
    await ctx.database.db
      .insert(datasets)
      .values({
        name: config.dataset,
        kind: "preferences",
        source: `run:${ctx.runId}`,
        description: "Comparison tasks generated from a checkpoint.",
      })
      .onConflictDoNothing();
  }

  // Every (prompt, round) becomes one task; its K completions are K rows of the same batch.
  const jobs = prompts.flatMap((prompt) =>
    Array.from({ length: config.rounds }, (_, round) => ({ prompt, round })),
  );
  const perBatch = Math.max(1, Math.floor(BATCH / config.completionsPerPrompt));
  const stored = await tasksStoredBy(ctx, config.dataset);
  if (stored > jobs.length || (stored % perBatch !== 0 && stored !== jobs.length)) {
    throw new JobInputError(
      `dataset "${config.dataset}" holds ${stored} tasks of this run, which its ${jobs.length} tasks in batches of ${perBatch} cannot leave; they were not written by this run's attempts`,
    );
  }
  if (stored > 0) ctx.log(`resuming: ${stored} of ${jobs.length} tasks were stored by an earlier attempt`);

  const { model, tokenizer } = await loadCheckpoint(dir, { trainable: false });
  const label = source ? `run:${source.runId}@${source.step}` : dir;
  let created = stored;
  try {
    for (let start = stored; start < jobs.length; start += perBatch) {
      if (ctx.signal.aborted) break;
      const slice = jobs.slice(start, start + perBatch);
      const ids = slice.flatMap(({ prompt }) =>
        Array.from({ length: config.completionsPerPrompt }, () => tokenizer.formatChat(prompt).ids),
      );
      const { tokens } = await generate(model, ids, {
        maxNewTokens: config.maxNewTokens,
        temperature: config.temperature,
        topK: config.topK,
        seed: hashSeed(config.seed, `generate/${start}`),
        eosTokenId: tokenizer.eosId,
        padTokenId: tokenizer.padId,
      });
      const tasks = slice.map(({ prompt, round }, i) => ({
        prompt,
        metadata: { round, generatedBy: ctx.runId },
        completions: Array.from({ length: config.completionsPerPrompt }, (_, k) => ({
          response: tokenizer
            .decode(tokens[i * config.completionsPerPrompt + k]!, { skipSpecial: true })
            .replaceAll("\u0000", "\uFFFD"),
          source: label,
          runId: source?.runId,
          checkpointId: source?.id,
        })),
      }));
      await createComparisonTasks(ctx.database.db, config.dataset, tasks, {
        seed: hashSeed(config.seed, `order/${start}`),
      });
      created += tasks.length;
      await ctx.progress(created, jobs.length);
      ctx.telemetry.metric("tasks_created", created, created);
    }
  } finally {
    model.dispose();
  }
  const ranked = config.oracle ? await rankWithOracle(ctx.database.db, config.dataset) : 0;
  ctx.log(
    `created ${created} comparison tasks in ${config.dataset}${config.oracle ? `; the oracle ranked ${ranked}` : ""}`,
  );
  return {
    tasks: created,
    completions: created * config.completionsPerPrompt,
    oracle_rankings: ranked,
    dataset: config.dataset,
  };
}

/** How many tasks earlier attempts of this run stored in `dataset` (0 for a first attempt). */
async function tasksStoredBy(ctx: JobContext, dataset: string): Promise<number> {
  const [row] = await ctx.database.db
    .select({ n: count() })
    .from(comparisonTasks)
    .innerJoin(datasets, eq(datasets.id, comparisonTasks.datasetId))
    .where(and(eq(datasets.name, dataset), sql`${comparisonTasks.metadata}->>'generatedBy' = ${ctx.runId}`));
  return row?.n ?? 0;
}
