import { createInvite, listInvites, listUsers, revokeInvite, roleSchema, updateUser } from "@rlhf/core/auth";
import {
  annotatorStats,
  datasetAgreement,
  datasetLeaderboard,
  datasetsProgress,
  generateTasksSchema,
  generationSources,
  goldAccuracy,
  importJsonl,
  launchGenerateTasks,
} from "@rlhf/core/labeling";
import { datasets } from "@rlhf/core/schema";
import { adminProcedure, createTRPCRouter, eq, sql } from "@rlhf/core/trpc";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { answering } from "~/server/errors";

const datasetRef = z.object({ datasetId: z.uuid() });

/** Everything only an admin may see or do: every procedure here is an adminProcedure. */
export const adminRouter = createTRPCRouter({
  /** Per-dataset progress: pending, completed, skipped, flagged. */
  overview: adminProcedure.query(({ ctx }) => datasetsProgress(ctx.db)),

  /** One dataset in depth: annotators' counts and speed, agreement, the model leaderboard, gold accuracy. */
  dataset: adminProcedure.input(datasetRef).query(async ({ ctx, input }) => {
    const [dataset] = await ctx.db.select().from(datasets).where(eq(datasets.id, input.datasetId));
    if (!dataset) throw new TRPCError({ code: "NOT_FOUND", message: "no such dataset" });
    const [annotators, agreement, leaderboard, gold] = await Promise.all([
      annotatorStats(ctx.db, dataset.id),
      datasetAgreement(ctx.db, dataset.id),
      datasetLeaderboard(ctx.db, dataset.id),
      goldAccuracy(ctx.db, dataset.id),
    ]);
    return {
      dataset: {
        id: dataset.id,
        name: dataset.name,
        description: dataset.description,
        requiredRankings: dataset.requiredRankings,
        goldFraction:
          typeof dataset.metadata.goldFraction === "number" ? dataset.metadata.goldFraction : null,
      },
      annotators,
      agreement,
      leaderboard,
      gold,
    };
  }),

  /** Rankings each new task needs, and the share of gold tasks served. Existing open tasks follow. */
  updateDataset: adminProcedure
    .input(
      z.object({
        datasetId: z.uuid(),
        requiredRankings: z.number().int().min(1).max(100).optional(),
        goldFraction: z.number().min(0).max(1).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      await ctx.db.transaction(async (tx) => {
        const [dataset] = await tx
          .select({ id: datasets.id })
          .from(datasets)
          .where(eq(datasets.id, input.datasetId))
          .for("update");
        if (!dataset)
          throw new TRPCError({ code: "NOT_FOUND", message: `datasetId: no dataset ${input.datasetId}` });
        if (input.requiredRankings !== undefined) {
          await tx
            .update(datasets)
            .set({ requiredRankings: input.requiredRankings })
            .where(eq(datasets.id, input.datasetId));
          await tx.execute(sql`update comparison_tasks set required_rankings = ${input.requiredRankings}
            where dataset_id = ${input.datasetId}`);
        }
        if (input.goldFraction !== undefined) {
          await tx.execute(sql`update datasets set metadata = metadata || ${JSON.stringify({ goldFraction: input.goldFraction })}::jsonb
            where id = ${input.datasetId}`);
        }
      });
    }),

  /** Import a JSONL file (tasks, TRL pairs or prompts), all or nothing. */
  import: adminProcedure
    .input(
      z.object({
        dataset: z.string().min(1, "name the dataset"),
        text: z.string().min(1, "the file is empty").max(50_000_000, "at most 50 MB per import"),
        requiredRankings: z.number().int().min(1).max(100).optional(),
        description: z.string().max(500).optional(),
      }),
    )
    .mutation(({ ctx, input }) => answering(() => importJsonl(ctx.db, input))),

  generationSources: adminProcedure.query(({ ctx }) => generationSources(ctx.db)),

  /** Queue a generate job: K responses per prompt from a run's checkpoint become tasks. */
  generate: adminProcedure.input(generateTasksSchema).mutation(async ({ ctx, input }) => {
    // An unknown run or a bad setting is the caller's to fix (400 naming it), not a server fault.
    const run = await answering(() => launchGenerateTasks(ctx.db, input));
    return { runId: run.id, name: run.name };
  }),

  users: adminProcedure.query(async ({ ctx }) => ({
    users: await listUsers(ctx.db),
    invites: await listInvites(ctx.db),
  })),

  /** An invitation link for an annotator (or admin); the token is shown once. */
  invite: adminProcedure
    .input(z.object({ email: z.string(), role: roleSchema.default("annotator") }))
    .mutation(({ ctx, input }) =>
      answering(() => createInvite(ctx.db, { ...input, invitedBy: ctx.session.user.id })),
    ),

  revokeInvite: adminProcedure
    .input(z.object({ id: z.string() }))
    .mutation(({ ctx, input }) => revokeInvite(ctx.db, input.id)),

  updateUser: adminProcedure
    .input(z.object({ id: z.string(), role: roleSchema.optional(), banned: z.boolean().optional() }))
    .mutation(({ ctx, input }) => answering(() => updateUser(ctx.db, input.id, input))),
});
