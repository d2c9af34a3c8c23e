import { trpcRouteHandler } from "@rlhf/core/trpc";
import { appRouter } from "~/server/api/root";
import { databaseOptions } from "~/server/db";

const handler = trpcRouteHandler({ router: appRouter, database: databaseOptions });

export { handler as GET, handler as POST };
