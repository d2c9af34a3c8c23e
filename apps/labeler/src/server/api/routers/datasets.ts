import { comparisonTasks, datasets } from "@rlhf/core/schema";
import { count, createTRPCRouter, desc, eq, protectedProcedure, sql } from "@rlhf/core/trpc";

export const datasetsRouter = createTRPCRouter({
  /** Every dataset (signed-in users only), newest first, with how many comparison tasks it has and how many are fully ranked. */
  list: protectedProcedure.query(({ ctx }) =>
    ctx.db
      .select({
        id: datasets.id,
        name: datasets.name,
        kind: datasets.kind,
        description: datasets.description,
        source: datasets.source,
        requiredRankings: datasets.requiredRankings,
        createdAt: datasets.createdAt,
        taskCount: count(comparisonTasks.id),
        // Complete = has the rankings it asked for (the count is kept by the submission transaction).
        completedCount: sql<number>`count(${comparisonTasks.id}) filter (
          where ${comparisonTasks.rankingCount} >= ${comparisonTasks.requiredRankings})`.mapWith(Number),
      })
      .from(datasets)
      .leftJoin(comparisonTasks, eq(comparisonTasks.datasetId, datasets.id))
      .groupBy(datasets.id)
      .orderBy(desc(datasets.createdAt), desc(datasets.id)),
  ),
});
