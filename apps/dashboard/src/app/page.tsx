import { DatabaseStatus } from "@rlhf/ui/database-status";
import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { RunsView } from "./_components/runs-view";

// Rendered per request from the database, never at build time.
export const dynamic = "force-dynamic";

export default async function RunsPage() {
  // Prefetched so the first paint has data; the client components then poll on their own.
  await Promise.all([
    prefetch(trpc.runs.list.queryOptions({ kinds: [], statuses: [], limit: 200 })),
    prefetch(trpc.health.status.queryOptions()),
  ]);
  return (
    <HydrateClient>
      <div className="page-head">
        <h1>Runs</h1>
        <p className="muted">Every training run, live: select two or more to compare their curves.</p>
      </div>
      <RunsView aside={<DatabaseStatus />} />
    </HydrateClient>
  );
}
