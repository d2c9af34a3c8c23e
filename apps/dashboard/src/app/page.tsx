import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { DatabaseStatus } from "./_components/database-status";
import { RunsTable } from "./_components/runs-table";

// Rendered per request from the database, never at build time.
export const dynamic = "force-dynamic";

export default async function RunsPage() {
  // Prefetched so the first paint has data; the client components then poll on their own.
  await Promise.all([prefetch(trpc.runs.list.queryOptions()), prefetch(trpc.health.status.queryOptions())]);
  return (
    <HydrateClient>
      <div className="page-head">
        <h1>Runs</h1>
        <p className="muted">The latest 50 training runs. This page updates every 2 seconds.</p>
      </div>
      <div className="layout">
        <section className="card card--flush" aria-labelledby="runs-heading">
          <h2 id="runs-heading" className="visually-hidden">
            Runs
          </h2>
          <RunsTable />
        </section>
        <aside>
          <DatabaseStatus />
        </aside>
      </div>
    </HydrateClient>
  );
}
