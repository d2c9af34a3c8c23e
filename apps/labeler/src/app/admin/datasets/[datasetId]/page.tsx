import { notFound } from "next/navigation";
import { requireAdmin } from "~/server/session";
import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { DatasetDetail } from "./dataset-detail";

export const dynamic = "force-dynamic";

export default async function DatasetPage({ params }: { params: Promise<{ datasetId: string }> }) {
  const { datasetId } = await params;
  await requireAdmin(`/admin/datasets/${datasetId}`);
  if (!/^[0-9a-f-]{36}$/i.test(datasetId)) notFound();
  await prefetch(trpc.admin.dataset.queryOptions({ datasetId }));
  return (
    <HydrateClient>
      <DatasetDetail datasetId={datasetId} />
    </HydrateClient>
  );
}
