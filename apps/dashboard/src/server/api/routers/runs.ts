import { createTRPCRouter, publicProcedure } from "@rlhf/core/trpc";

export const runsRouter = createTRPCRouter({
  /** The latest 50 runs, newest first: what the runs table shows. */
  list: publicProcedure.query(({ ctx }) =>
    ctx.db.query.runs.findMany({
      columns: {
        id: true,
        name: true,
        kind: true,
        status: true,
        backend: true,
        createdAt: true,
        startedAt: true,
        finishedAt: true,
        step: true,
        totalSteps: true,
      },
      orderBy: (runs, { desc }) => [desc(runs.createdAt), desc(runs.id)],
      limit: 50,
    }),
  ),
});
