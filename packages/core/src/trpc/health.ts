import { sql } from "drizzle-orm";
import { rootMessage } from "../db/outage";
import { comparisonTasks, datasets, rankings, runs } from "../db/schema";
import { createTRPCRouter, publicProcedure } from "./trpc";

/** What a status card shows; when the server cannot be queried, why. */
export type HealthStatus =
  | {
      database: { mode: "external" | "embedded"; ok: true; serverVersion: string; migrations: number };
      counts: { runs: number; datasets: number; comparisonTasks: number; rankings: number };
    }
  | {
      database: { mode: "external" | "embedded"; ok: false; error: string };
      counts: null;
    };

interface StatusRow extends Record<string, unknown> {
  server_version: string;
  migrations: number;
  runs: number;
  datasets: number;
  comparison_tasks: number;
  rankings: number;
}

/** Shared by both apps: is the database there, migrated, and how much is in it. */
export const healthRouter = createTRPCRouter({
  status: publicProcedure.query(async ({ ctx }): Promise<HealthStatus> => {
    try {
      // One round trip: a status card polls this every few seconds from every open tab.
      const { rows } = await ctx.db.execute<StatusRow>(sql`
        select current_setting('server_version') as server_version,
          (select count(*)::int from drizzle.__drizzle_migrations) as migrations,
          (select count(*)::int from ${runs}) as runs,
          (select count(*)::int from ${datasets}) as datasets,
          (select count(*)::int from ${comparisonTasks}) as comparison_tasks,
          (select count(*)::int from ${rankings}) as rankings`);
      const row = rows[0]!;
      return {
        database: {
          mode: ctx.database.mode,
          ok: true,
          serverVersion: row.server_version,
          migrations: row.migrations,
        },
        counts: {
          runs: row.runs,
          datasets: row.datasets,
          comparisonTasks: row.comparison_tasks,
          rankings: row.rankings,
        },
      };
    } catch (error) {
      // The pool was open but the server went away (restarted, stopped): report it rather than fail,
      // so the card can say so while the rest of the page keeps its last data.
      return { database: { mode: ctx.database.mode, ok: false, error: rootMessage(error) }, counts: null };
    }
  }),
});
