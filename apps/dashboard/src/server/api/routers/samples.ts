import { createTRPCRouter } from "@rlhf/core/trpc";
import { z } from "zod";
import { sampleSteps, samplesOf, sideBySide } from "~/server/queries/samples";
import { readProcedure } from "../read";

const side = z.object({ runId: z.uuid(), step: z.number().int().min(0) });
const search = z.string().max(200).optional();

export const samplesRouter = createTRPCRouter({
  /** Steps with samples and how many: the slider's stops. */
  steps: readProcedure
    .input(z.object({ runId: z.uuid() }))
    .query(({ ctx, input }) => sampleSteps(ctx.db, input.runId)),

  /** The samples of one step, or matching a search across every step. */
  list: readProcedure
    .input(z.object({ runId: z.uuid(), step: z.number().int().min(0).optional(), search }))
    .query(({ ctx, input }) => samplesOf(ctx.db, input.runId, input)),

  /** Two (run, step) sides matched by prompt. */
  sideBySide: readProcedure
    .input(z.object({ a: side, b: side, search }))
    .query(({ ctx, input }) => sideBySide(ctx.db, input.a, input.b, input.search)),
});
