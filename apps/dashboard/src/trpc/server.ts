import { createServerTRPC } from "@rlhf/ui/trpc/server";
import { appRouter } from "~/server/api/root";
import { databaseOptions } from "~/server/db";

export const { trpc, caller, prefetch, HydrateClient } = createServerTRPC(appRouter, databaseOptions);
