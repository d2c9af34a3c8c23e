import { notFound } from "next/navigation";
import { z } from "zod";
import { RunPage } from "~/app/_components/run/run-page";
import { RUN_TABS, type RunTab } from "~/app/_components/run/tabs";
import { HydrateClient, prefetch, trpc } from "~/trpc/server";

export const dynamic = "force-dynamic";

export default async function RunRoute({
  params,
  searchParams,
}: {
  params: Promise<{ id: string }>;
  searchParams: Promise<{ tab?: string }>;
}) {
  const { id } = await params;
  const { tab } = await searchParams;
  if (!z.uuid().safeParse(id).success) notFound();
  // The charts' keys too, so the charts ask for their series as soon as the page is in the browser.
  await Promise.all([
    prefetch(trpc.runs.detail.queryOptions({ id })),
    prefetch(trpc.metrics.keys.queryOptions({ runIds: [id] })),
  ]);
  const current: RunTab = RUN_TABS.includes(tab as RunTab) ? (tab as RunTab) : "charts";
  return (
    <HydrateClient>
      <RunPage id={id} tab={current} />
    </HydrateClient>
  );
}
