import { createTRPCRouter, healthRouter } from "@rlhf/core/trpc";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import { dataRouter } from "./routers/data";
import { launchRouter } from "./routers/launch";
import { metricsRouter } from "./routers/metrics";
import { playgroundRouter } from "./routers/playground";
import { runsRouter } from "./routers/runs";
import { samplesRouter } from "./routers/samples";
import { sessionRouter } from "./routers/session";

export const appRouter = createTRPCRouter({
  health: healthRouter,
  session: sessionRouter,
  runs: runsRouter,
  metrics: metricsRouter,
  samples: samplesRouter,
  launch: launchRouter,
  data: dataRouter,
  playground: playgroundRouter,
});

export type AppRouter = typeof appRouter;
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
