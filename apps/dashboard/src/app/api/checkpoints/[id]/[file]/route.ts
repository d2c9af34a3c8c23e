import { getDatabase } from "@rlhf/core/trpc";
import { createCheckpointFileHandler } from "~/server/checkpoint-files";
import { databaseOptions } from "~/server/db";

export const GET = createCheckpointFileHandler(() => getDatabase(databaseOptions));
