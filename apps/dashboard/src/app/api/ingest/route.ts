import { getDatabase } from "@rlhf/core/trpc";
import { databaseOptions } from "~/server/db";
import { createIngestHandler } from "~/server/ingest";

export const POST = createIngestHandler(() => getDatabase(databaseOptions));
