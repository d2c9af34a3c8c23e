import { createTRPCRouter, publicProcedure } from "@rlhf/core/trpc";
import { dataOverview } from "~/server/queries/data";

export const dataRouter = createTRPCRouter({
  /** Datasets with sizes, labeling progress, agreement and preference pairs. */
  overview: publicProcedure.query(({ ctx }) => dataOverview(ctx.db)),
});
