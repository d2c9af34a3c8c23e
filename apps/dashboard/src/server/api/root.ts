import { createTRPCRouter, healthRouter } from "@rlhf/core/trpc";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import { runsRouter } from "./routers/runs";

export const appRouter = createTRPCRouter({
  health: healthRouter,
  runs: runsRouter,
});

export type AppRouter = typeof appRouter;
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
