"use client";

import type { createTRPCRouter, healthRouter } from "@rlhf/core/trpc";
import { type QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createTRPCClient, httpBatchStreamLink, type TRPCClient } from "@trpc/client";
import { createTRPCContext, type TRPCOptionsProxy } from "@trpc/tanstack-react-query";
import { type ReactNode, useState } from "react";
import superjson from "superjson";
import { createQueryClient } from "../query-client";

/** The routers every app mounts from @rlhf/core: all that a component of this package may call. */
export type SharedRouter = ReturnType<typeof createTRPCRouter<{ health: typeof healthRouter }>>;

// One context for both apps: this package's components (DatabaseStatus) reach the app's client through
// it, and each app sees the same context typed with its own router (createTRPCReact).
const shared = createTRPCContext<SharedRouter>();

/** tRPC for this package's components, which need only the shared routers. */
export const useSharedTRPC = shared.useTRPC;

let browserQueryClient: QueryClient | undefined;

function getQueryClient(): QueryClient {
  // On the server every render gets its own client, so one request's data never leaks into another's.
  if (typeof window === "undefined") return createQueryClient();
  browserQueryClient ??= createQueryClient();
  return browserQueryClient;
}

export interface TRPCReactOptions {
  /** Sent as `x-trpc-source` with every request: which app's browser code made the call. */
  source: string;
  /** "POST" to send queries as POST requests (their input in the body rather than the URL). */
  methodOverride?: "POST";
}

/**
 * An app's tRPC for client components, typed with its router: `TRPCReactProvider` at the root of the
 * tree, then `useTRPC()` for query and mutation options and `useTRPCClient()` to call procedures directly.
 */
export function createTRPCReact<TRouter extends SharedRouter>(options: TRPCReactOptions) {
  function TRPCReactProvider({ children }: { children: ReactNode }) {
    const queryClient = getQueryClient();
    const [trpcClient] = useState(() =>
      createTRPCClient<SharedRouter>({
        links: [
          httpBatchStreamLink({
            transformer: superjson,
            url: "/api/trpc",
            methodOverride: options.methodOverride,
            // The server refuses bigger batches (TRPC_MAX_BATCH of @rlhf/core/trpc).
            maxItems: 64,
            headers: () => ({ "x-trpc-source": options.source }),
          }),
        ],
      }),
    );
    return (
      <QueryClientProvider client={queryClient}>
        <shared.TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
          {children}
        </shared.TRPCProvider>
      </QueryClientProvider>
    );
  }

  return {
    TRPCReactProvider,
    // The client behind the context is the app's, built for its whole router: only the types widen.
    useTRPC: shared.useTRPC as unknown as () => TRPCOptionsProxy<TRouter>,
    useTRPCClient: shared.useTRPCClient as unknown as () => TRPCClient<TRouter>,
  };
}
