import type { OpenDatabaseOptions } from "@rlhf/core/db";
import { env } from "~/env";

/** How this app reaches the workbench database: what env.ts validated, else the embedded server. */
export const databaseOptions: OpenDatabaseOptions = { url: env.DATABASE_URL, home: env.RLHF_HOME };
