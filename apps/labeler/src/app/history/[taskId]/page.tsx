import { ownRanking } from "@rlhf/core/labeling";
import { datasets } from "@rlhf/core/schema";
import { eq, getDatabase } from "@rlhf/core/trpc";
import { notFound } from "next/navigation";
import { databaseOptions } from "~/server/db";
import { requireUser } from "~/server/session";
import { Annotator } from "../../label/[datasetId]/annotator";

export const dynamic = "force-dynamic";

/** One of the signed-in user's own answers, to change it; anyone else's is not found. */
export default async function OwnAnswerPage({ params }: { params: Promise<{ taskId: string }> }) {
  const { taskId } = await params;
  const user = await requireUser(`/history/${taskId}`);
  if (!/^[0-9a-f-]{36}$/i.test(taskId)) notFound();
  const { db } = await getDatabase(databaseOptions);
  const own = await ownRanking(db, user.id, taskId).catch(() => null);
  if (!own) notFound();
  const [dataset] = await db
    .select({ name: datasets.name })
    .from(datasets)
    .where(eq(datasets.id, own.datasetId));
  return <Annotator datasetId={own.datasetId} datasetName={dataset?.name ?? ""} taskId={taskId} />;
}
