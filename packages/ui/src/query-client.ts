import { defaultShouldDehydrateQuery, isServer, QueryClient } from "@tanstack/react-query";
import superjson from "superjson";

/** How often live pages poll: runs move and labels arrive while people watch. */
export const LIVE_REFETCH_MS = 2_000;

/** One per request on the server, one per tab in the browser; both sides (de)serialise with superjson. */
export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // Data prefetched by the server component is fresh when the page hydrates: don't refetch at once.
        staleTime: 30_000,
        // Pages poll every few seconds anyway: one retry in the browser shows an outage within a couple of
        // seconds, and a server render that cannot prefetch leaves it to the browser rather than wait.
        retry: isServer ? false : 1,
      },
      dehydrate: {
        serializeData: superjson.serialize,
        shouldDehydrateQuery: (query) =>
          defaultShouldDehydrateQuery(query) || query.state.status === "pending",
      },
      hydrate: { deserializeData: superjson.deserialize },
    },
  });
}
