import { trpcRouteHandler } from "@rlhf/core/trpc";
import { databaseOptions } from "~/server/db";
import { appRouter } from "./root";

/**
 * The labeler's /api/trpc: answered before Next.js's router where the server runs with the workbench's
 * preload (../before-next.ts), else by the route handler app/api/trpc/[trpc]/route.ts. Every call is a
 * signed-in annotator's: their sessions are answered from memory (kept exact by the database's
 * announcements of blocks, role changes and sign-outs).
 */
export const trpcHandler = trpcRouteHandler({
  router: appRouter,
  database: databaseOptions,
  sessionCache: true,
});
