import { getRun, RunNotFoundError, runLineage, runLogLines } from "@rlhf/core/queue";
import { RUN_KINDS, RUN_STATUSES, runs } from "@rlhf/core/schema";
import { createTRPCRouter, inArray } from "@rlhf/core/trpc";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { modelFacts, runCheckpoints } from "~/server/queries/facts";
import { logTail, pipelines, runKeys, runsTable } from "~/server/queries/runs";
import { readProcedure } from "../read";

const runId = z.uuid({ error: "expected a run id" });

/** `fn`, with "no such run" as NOT_FOUND. */
async function or404<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof RunNotFoundError) throw new TRPCError({ code: "NOT_FOUND", message: error.message });
    throw error;
  }
}

export const runsRouter = createTRPCRouter({
  /** The runs table: newest first, filtered; each with parents and key metrics; and their pipelines' chains. */
  list: readProcedure
    .input(
      z
        .object({
          search: z.string().max(200).optional(),
          kinds: z.array(z.enum(RUN_KINDS)).optional(),
          statuses: z.array(z.enum(RUN_STATUSES)).optional(),
          limit: z.number().int().min(1).max(500).default(200),
        })
        .default({ limit: 200 }),
    )
    .query(async ({ ctx, input }) => {
      const rows = await runsTable(ctx.db, input);
      const pipelineIds = [
        ...new Set(rows.map((r) => r.pipelineId).filter((id): id is string => id !== null)),
      ];
      return { runs: rows, pipelines: await pipelines(ctx.db, pipelineIds.slice(0, 10)) };
    }),

  /** Everything the run page shows but the curves, samples and logs. */
  detail: readProcedure.input(z.object({ id: runId })).query(async ({ ctx, input }) => {
    const run = await or404(() => getRun(ctx.db, input.id));
    const [lineage, keys, saved, chain] = await Promise.all([
      runLineage(ctx.db, run.id),
      runKeys(ctx.db, run.id),
      runCheckpoints(ctx.db, run.id),
      run.pipelineId ? pipelines(ctx.db, [run.pipelineId]) : Promise.resolve([]),
    ]);
    return {
      run,
      inputs: lineage.inputs,
      dependents: lineage.dependents,
      checkpoints: saved,
      keys,
      facts: await modelFacts(ctx.db, run, keys),
      pipeline: chain[0] ?? null,
    };
  }),

  /** The configs of several runs (for the diff on the compare page and the run page). */
  configs: readProcedure
    .input(z.object({ ids: z.array(runId).min(1).max(20) }))
    .query(async ({ ctx, input }) => {
      const rows = await ctx.db
        .select({ id: runs.id, name: runs.name, kind: runs.kind, config: runs.config })
        .from(runs)
        .where(inArray(runs.id, input.ids));
      return input.ids.map((id) => rows.find((r) => r.id === id)).filter((r) => r !== undefined);
    }),

  /** A live log tail: without `afterId` the newest lines, with it the lines after it. */
  logs: readProcedure
    .input(z.object({ runId, afterId: z.number().int().min(0).optional() }))
    .query(async ({ ctx, input }) =>
      input.afterId === undefined
        ? logTail(ctx.db, input.runId)
        : runLogLines(ctx.db, input.runId, input.afterId),
    ),
});
