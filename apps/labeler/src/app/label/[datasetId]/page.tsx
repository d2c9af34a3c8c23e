import { datasets } from "@rlhf/core/schema";
import { eq, getDatabase } from "@rlhf/core/trpc";
import { notFound } from "next/navigation";
import { databaseOptions } from "~/server/db";
import { requireUser } from "~/server/session";
import { Annotator } from "./annotator";

export const dynamic = "force-dynamic";

export default async function LabelPage({ params }: { params: Promise<{ datasetId: string }> }) {
  const { datasetId } = await params;
  await requireUser(`/label/${datasetId}`);
  if (!/^[0-9a-f-]{36}$/i.test(datasetId)) notFound();
  const { db } = await getDatabase(databaseOptions);
  const [dataset] = await db.select({ name: datasets.name }).from(datasets).where(eq(datasets.id, datasetId));
  if (!dataset) notFound();
  return <Annotator datasetId={datasetId} datasetName={dataset.name} />;
}
