import {
  annotatorProgress,
  nextTask,
  nextTaskInputSchema,
  ownRanking,
  ownRankings,
  releaseTask,
  submitRanking,
  submitRankingSchema,
  undoLastRanking,
} from "@rlhf/core/labeling";
import { comparisonTasks, datasets } from "@rlhf/core/schema";
import { createTRPCRouter, eq, protectedProcedure, sql } from "@rlhf/core/trpc";
import { z } from "zod";
import { answering } from "~/server/errors";

const offset = z
  .number()
  .int()
  .min(-14 * 60)
  .max(14 * 60)
  .default(0);

/**
 * Annotating: every procedure acts as the signed-in user (the annotator id always comes from the session,
 * never from the input), and shows nobody else's answers.
 */
export const labelingRouter = createTRPCRouter({
  /** Preference datasets with what is left in each for the caller. */
  datasets: protectedProcedure.query(async ({ ctx }) => {
    const me = ctx.session.user.id;
    return ctx.db
      .select({
        id: datasets.id,
        name: datasets.name,
        description: datasets.description,
        tasks: sql<number>`count(${comparisonTasks.id})::int`,
        open: sql<number>`(count(${comparisonTasks.id}) filter (where
          (${comparisonTasks.goldRanking} is not null or ${comparisonTasks.rankingCount} < ${comparisonTasks.requiredRankings})
          and not exists (select 1 from rankings r where r.task_id = ${comparisonTasks.id} and r.annotator_id = ${me})))::int`,
        mine: sql<number>`(count(${comparisonTasks.id}) filter (where exists (
          select 1 from rankings r where r.task_id = ${comparisonTasks.id} and r.annotator_id = ${me} and not r.skipped)))::int`,
      })
      .from(datasets)
      .leftJoin(comparisonTasks, eq(comparisonTasks.datasetId, datasets.id))
      .where(eq(datasets.kind, "preferences"))
      .groupBy(datasets.id)
      .orderBy(datasets.name);
  }),

  /**
   * The caller's next task in a dataset, or null when none is left. A mutation, not a query: it takes a
   * lease (the task is held for them for a few minutes), and a GET must not change anything.
   */
  next: protectedProcedure
    .input(nextTaskInputSchema)
    .mutation(({ ctx, input }) =>
      nextTask(ctx.db, { annotatorId: ctx.session.user.id, datasetId: input.datasetId }),
    ),

  progress: protectedProcedure
    .input(z.object({ datasetId: z.uuid(), utcOffsetMinutes: offset }))
    .query(({ ctx, input }) =>
      annotatorProgress(ctx.db, ctx.session.user.id, input.datasetId, input.utcOffsetMinutes),
    ),

  /**
   * Store an answer; with `nextIn`, the reply carries the next task of that dataset, handed out in the
   * answer's transaction (one HTTP round trip, one commit).
   */
  submit: protectedProcedure.input(submitRankingSchema).mutation(({ ctx, input }) => {
    const isAdmin = ctx.session.user.role === "admin";
    return answering(() =>
      submitRanking(ctx.db, ctx.session.user.id, input, { isAdmin, nextIn: input.nextIn }),
    );
  }),

  /** Take back the caller's latest answer (within a minute of giving it); its task comes next again. */
  undo: protectedProcedure.mutation(({ ctx }) => undoLastRanking(ctx.db, ctx.session.user.id)),

  release: protectedProcedure
    .input(z.object({ taskId: z.uuid() }))
    .mutation(({ ctx, input }) => releaseTask(ctx.db, ctx.session.user.id, input.taskId)),

  /** The caller's own answers, newest first. */
  mine: protectedProcedure.query(({ ctx }) => ownRankings(ctx.db, ctx.session.user.id)),

  /** One of the caller's own answers with its task, to change it. */
  own: protectedProcedure
    .input(z.object({ taskId: z.uuid() }))
    .query(({ ctx, input }) => answering(() => ownRanking(ctx.db, ctx.session.user.id, input.taskId))),
});
