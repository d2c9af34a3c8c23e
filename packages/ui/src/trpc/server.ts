/**
 * tRPC for React server components: `trpc.x.queryOptions()` to prefetch what a client component will
 * ask for (then wrap the tree in `HydrateClient`), or `caller.x()` to call a procedure in-process.
 */
import "server-only";
import type { OpenDatabaseOptions } from "@rlhf/core/db";
import { createCallerFactory, createContext } from "@rlhf/core/trpc";
import { dehydrate, type FetchQueryOptions, HydrationBoundary, type QueryKey } from "@tanstack/react-query";
import { createTRPCOptionsProxy } from "@trpc/tanstack-react-query";
import { headers } from "next/headers";
import { cache, createElement, type ReactNode } from "react";
import { createQueryClient } from "../query-client";
import type { SharedRouter } from "./react";

/** An app's server-side tRPC, for its router and the database its env.ts chose. */
export function createServerTRPC<TRouter extends SharedRouter>(
  appRouter: TRouter,
  database: OpenDatabaseOptions,
) {
  /** One context per request, however many procedures the request's components call. */
  const createRscContext = cache(async () => {
    const requestHeaders = new Headers(await headers());
    requestHeaders.set("x-trpc-source", "rsc");
    return createContext({ headers: requestHeaders, database });
  });

  const getQueryClient = cache(createQueryClient);

  return {
    trpc: createTRPCOptionsProxy<TRouter>({
      router: appRouter,
      ctx: createRscContext,
      queryClient: getQueryClient,
    }),
    caller: createCallerFactory(appRouter)(createRscContext),

    /** Fetch a query into this request's cache; failures are left for the client to fetch and report. */
    prefetch<TQueryFnData, TError, TData, TQueryKey extends QueryKey>(
      options: FetchQueryOptions<TQueryFnData, TError, TData, TQueryKey>,
    ): Promise<void> {
      return getQueryClient().prefetchQuery(options);
    },

    /** Hands this request's prefetched queries to the client components below it. */
    HydrateClient({ children }: { children: ReactNode }) {
      return createElement(HydrationBoundary, { state: dehydrate(getQueryClient()) }, children);
    },
  };
}
