import { DataOverview } from "~/app/_components/data/data-view";
import { HydrateClient, prefetch, trpc } from "~/trpc/server";

export const dynamic = "force-dynamic";

export default async function DataPage() {
  await prefetch(trpc.data.overview.queryOptions());
  return (
    <HydrateClient>
      <div className="page-head">
        <h1>Data</h1>
        <p className="muted">
          What the models train on: datasets, labeling progress, agreement and preference pairs.
        </p>
      </div>
      <DataOverview />
    </HydrateClient>
  );
}
