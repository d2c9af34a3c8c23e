import { createTRPCRouter, healthRouter } from "@rlhf/core/trpc";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import { datasetsRouter } from "./routers/datasets";

export const appRouter = createTRPCRouter({
  health: healthRouter,
  datasets: datasetsRouter,
});

export type AppRouter = typeof appRouter;
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
