import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { DatabaseStatus } from "./_components/database-status";
import { DatasetsTable } from "./_components/datasets-table";

// Rendered per request from the database, never at build time.
export const dynamic = "force-dynamic";

export default async function DatasetsPage() {
  // Prefetched so the first paint has data; the client components then poll on their own.
  await Promise.all([
    prefetch(trpc.datasets.list.queryOptions()),
    prefetch(trpc.health.status.queryOptions()),
  ]);
  return (
    <HydrateClient>
      <div className="page-head">
        <h1>Datasets</h1>
        <p className="muted">
          Comparisons waiting to be ranked, and how far along each dataset is. Updates every 2 seconds.
        </p>
      </div>
      <div className="layout">
        <section className="card card--flush" aria-labelledby="datasets-heading">
          <h2 id="datasets-heading" className="visually-hidden">
            Datasets
          </h2>
          <DatasetsTable />
        </section>
        <aside>
          <DatabaseStatus />
        </aside>
      </div>
    </HydrateClient>
  );
}
