import { createTRPCRouter } from "@rlhf/core/trpc";
import { z } from "zod";
import { type LastPoint, runKeys } from "~/server/queries/runs";
import { chartSeries, pointsAfter } from "~/server/queries/series";
import { readProcedure } from "../read";

const runIds = z.array(z.uuid()).min(1).max(12);
const key = z.string().min(1).max(200);

export const metricsRouter = createTRPCRouter({
  /** The metric keys of the runs, each with every run's last point: one chart per key. */
  keys: readProcedure.input(z.object({ runIds })).query(async ({ ctx, input }) => {
    const perRun = await Promise.all(input.runIds.map((id) => runKeys(ctx.db, id)));
    const byKey = new Map<string, Record<string, LastPoint>>();
    perRun.forEach((points, i) => {
      for (const point of points) {
        byKey.set(point.key, { ...byKey.get(point.key), [input.runIds[i]!]: point });
      }
    });
    return [...byKey.keys()].sort().map((k) => ({ key: k, last: byKey.get(k)! }));
  }),

  /** One chart's series, downsampled in SQL to ≈ `buckets` min/max/last buckets (zoom: a step range). */
  series: readProcedure
    .input(
      z
        .object({
          runIds,
          key,
          buckets: z.number().int().min(10).max(4000),
          fromStep: z.number().int().min(0).optional(),
          toStep: z.number().int().min(0).optional(),
        })
        .refine((r) => r.fromStep === undefined || r.toStep === undefined || r.fromStep <= r.toStep, {
          message: "fromStep must not be after toStep",
          path: ["fromStep"],
        }),
    )
    .query(({ ctx, input }) => chartSeries(ctx.database, input)),

  /** The points after each chart's cursor (raw, with wall times): what a live page polls every second. */
  since: readProcedure
    .input(
      z.object({
        cursors: z.array(z.object({ runId: z.uuid(), key, afterStep: z.number().int().min(-1) })).max(500),
      }),
    )
    .query(({ ctx, input }) => pointsAfter(ctx.db, input.cursors)),
});
