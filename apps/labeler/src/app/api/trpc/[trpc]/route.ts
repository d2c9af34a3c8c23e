import { trpcRouteHandler } from "@rlhf/core/trpc";
import { appRouter } from "~/server/api/root";
import { databaseOptions } from "~/server/db";

// Every call is a signed-in annotator's: their sessions are answered from memory (kept exact by the
// database's announcements of blocks, role changes and sign-outs).
const handler = trpcRouteHandler({ router: appRouter, database: databaseOptions, sessionCache: true });

export { handler as GET, handler as POST };
