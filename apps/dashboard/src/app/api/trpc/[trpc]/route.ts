import { trpcRouteHandler } from "@rlhf/core/trpc";
import { appRouter } from "~/server/api/root";
import { databaseOptions } from "~/server/db";

// The browser client sends queries as POST (see src/trpc/react.tsx): a page of charts outgrows a URL.
const handler = trpcRouteHandler({ router: appRouter, database: databaseOptions, allowMethodOverride: true });

export { handler as GET, handler as POST };
