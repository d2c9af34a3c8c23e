import { randomBytes } from "node:crypto";
import { ConfigError, jobConfigSchemas } from "@rlhf/core/configs";
import { launchDemoPipeline } from "@rlhf/core/demo";
import { expectationText } from "@rlhf/core/formats";
import { cancelRun, launchRun, RunNotFoundError } from "@rlhf/core/queue";
import { checkpoints, datasets, runs } from "@rlhf/core/schema";
import { adminProcedure, asc, createTRPCRouter, desc, inArray } from "@rlhf/core/trpc";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { readProcedure } from "../read";

const jobKind = z.enum(Object.keys(jobConfigSchemas) as [keyof typeof jobConfigSchemas]);

export const launchRouter = createTRPCRouter({
  /** What the form's pickers offer: runs that have (or will have) checkpoints, and datasets by kind. */
  options: readProcedure.query(async ({ ctx }) => {
    const [candidates, saved, sets] = await Promise.all([
      ctx.db
        .select({
          id: runs.id,
          name: runs.name,
          kind: runs.kind,
          status: runs.status,
          createdAt: runs.createdAt,
        })
        .from(runs)
        .where(inArray(runs.status, ["queued", "running", "succeeded"]))
        .orderBy(desc(runs.createdAt))
        .limit(200),
      ctx.db
        .select({
          id: checkpoints.id,
          runId: checkpoints.runId,
          step: checkpoints.step,
          path: checkpoints.path,
          isFinal: checkpoints.isFinal,
        })
        .from(checkpoints)
        .orderBy(asc(checkpoints.runId), desc(checkpoints.step))
        .limit(2000),
      ctx.db.select({ name: datasets.name, kind: datasets.kind }).from(datasets).orderBy(asc(datasets.name)),
    ]);
    return {
      runs: candidates
        .filter((r) => r.kind !== "generate" && r.kind !== "serve" && r.kind !== "external")
        .map((r) => ({ ...r, checkpoints: saved.filter((c) => c.runId === r.id) })),
      datasets: sets,
    };
  }),

  /**
   * Queue one run. An invalid config is an answer, not an error: the issues by field path, for the form
   * to show on its fields (the same zod schema the form validated with, run again here).
   */
  run: adminProcedure
    .input(z.object({ kind: jobKind, name: z.string().trim().max(200).optional(), config: z.unknown() }))
    .mutation(async ({ ctx, input }) => {
      try {
        const run = await launchRun(ctx.database, {
          kind: input.kind,
          config: input.kind === "serve" ? withServeKey(input.config) : input.config,
          name: input.name || undefined,
        });
        return { ok: true as const, run };
      } catch (error) {
        if (error instanceof ConfigError) {
          // Each issue's words also as a code, for a page in another language.
          const issues = error.issues.map((i) => ({ ...i, text: expectationText(i.message) }));
          return { ok: false as const, issues };
        }
        throw error;
      }
    }),

  /** "Run the demo pipeline": the demo chain, queued (datasets seeded first if missing). */
  demo: adminProcedure
    .input(z.object({ quick: z.boolean().default(false) }).default({ quick: false }))
    .mutation(({ ctx, input }) => launchDemoPipeline(ctx.database, input)),

  /** Stop a run: a queued one at once, a running one at its next step (keeping its last checkpoint). */
  cancel: adminProcedure.input(z.object({ id: z.uuid() })).mutation(async ({ ctx, input }) => {
    try {
      return await cancelRun(ctx.database, input.id);
    } catch (error) {
      if (error instanceof RunNotFoundError)
        throw new TRPCError({ code: "NOT_FOUND", message: error.message });
      throw error;
    }
  }),
});

/**
 * A serve run launched here answers only clients that hold its key: one is generated unless the form gave
 * one. The run page shows it to admins (everyone else sees the endpoint, not the key).
 */
function withServeKey(config: unknown): unknown {
  if (!config || typeof config !== "object" || Array.isArray(config)) return config;
  if ((config as { apiKey?: unknown }).apiKey !== undefined) return config;
  return { ...config, apiKey: `rlhf-serve-${randomBytes(24).toString("base64url")}` };
}
