import { createContext } from "@rlhf/core/trpc";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { appRouter } from "~/server/api/root";
import { databaseOptions } from "~/server/db";

// Errors the caller caused (bad input, not signed in) are answers, not server faults: not logged.
const CALLER_ERRORS = new Set(["BAD_REQUEST", "UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND"]);

const handler = (req: Request) =>
  fetchRequestHandler({
    endpoint: "/api/trpc",
    router: appRouter,
    req,
    // The browser client sends queries as POST (see src/trpc/react.tsx).
    allowMethodOverride: true,
    createContext: () => createContext({ headers: req.headers, database: databaseOptions }),
    onError: ({ path, error }) => {
      if (!CALLER_ERRORS.has(error.code)) console.error(`tRPC ${path ?? "?"}: ${error.message}`);
    },
  });

export { handler as GET, handler as POST };
