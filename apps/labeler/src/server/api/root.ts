import { createTRPCRouter, healthRouter } from "@rlhf/core/trpc";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import { accountRouter } from "./routers/account";
import { adminRouter } from "./routers/admin";
import { datasetsRouter } from "./routers/datasets";
import { labelingRouter } from "./routers/labeling";

export const appRouter = createTRPCRouter({
  health: healthRouter,
  account: accountRouter,
  datasets: datasetsRouter,
  labeling: labelingRouter,
  admin: adminRouter,
});

export type AppRouter = typeof appRouter;
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
