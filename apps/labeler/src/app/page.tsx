import { DatabaseStatus } from "@rlhf/ui/database-status";
import { redirect } from "next/navigation";
import { currentUser } from "~/server/session";
import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { DatasetsTable } from "./_components/datasets-table";
import { LabelingDatasets } from "./_components/labeling-datasets";

// Rendered per request from the database, never at build time.
export const dynamic = "force-dynamic";

export default async function HomePage() {
  const current = await currentUser();
  if (current.databaseError !== undefined) {
    // Without a database nobody can sign in: say what is wrong and keep polling until it is back.
    await prefetch(trpc.health.status.queryOptions());
    return (
      <HydrateClient>
        <div className="page-head">
          <h1>Labeler</h1>
        </div>
        <div className="layout">
          <section className="card">
            <div className="alert" role="alert">
              <strong>Could not load the labeler</strong>
              <p className="alert__message">{current.databaseError}</p>
              <p className="muted">
                Check that PostgreSQL is running and DATABASE_URL is right, or unset DATABASE_URL to use the
                embedded database.
              </p>
            </div>
          </section>
          <aside>
            <DatabaseStatus />
          </aside>
        </div>
      </HydrateClient>
    );
  }
  if (!current.user) redirect(current.needsSetup ? "/setup" : "/login");

  await Promise.all([
    prefetch(trpc.labeling.datasets.queryOptions()),
    prefetch(trpc.datasets.list.queryOptions()),
    prefetch(trpc.health.status.queryOptions()),
  ]);
  return (
    <HydrateClient>
      <div className="page-head">
        <h1>Label</h1>
        <p className="muted">
          Pick a dataset to rank. Tasks are handed out one at a time; nobody gets the same task twice.
        </p>
      </div>
      <div className="layout">
        <div className="stack">
          <LabelingDatasets />
          <section className="card card--flush" aria-labelledby="datasets-heading">
            <h2 id="datasets-heading" className="card__title">
              All datasets
            </h2>
            <DatasetsTable />
          </section>
        </div>
        <aside>
          <DatabaseStatus />
        </aside>
      </div>
    </HydrateClient>
  );
}
