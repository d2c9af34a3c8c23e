import { createTRPCRouter, protectedProcedure } from "@rlhf/core/trpc";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { completionSettingsSchema } from "~/lib/playground";
import { CheckpointFileError, generateOnServer } from "~/server/playground";

export const playgroundRouter = createTRPCRouter({
  /**
   * One completion of a checkpoint generated on this server, with its timings: what the playground puts
   * beside the browser's. For signed-in users: it spends the dashboard server's CPU, which reading the
   * dashboard (open to all) does not; the browser's own generation needs no account.
   */
  generate: protectedProcedure
    .input(
      z.object({
        checkpointId: z.uuid({ error: "expected a checkpoint id" }),
        settings: completionSettingsSchema,
      }),
    )
    .mutation(async ({ ctx, input }) => {
      try {
        return await generateOnServer(ctx.db, input.checkpointId, input.settings);
      } catch (error) {
        if (error instanceof CheckpointFileError)
          throw new TRPCError({ code: "NOT_FOUND", message: error.message });
        throw new TRPCError({ code: "BAD_REQUEST", message: (error as Error).message, cause: error });
      }
    }),
});
