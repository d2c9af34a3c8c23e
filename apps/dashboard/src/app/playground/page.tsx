import { getTranslations } from "next-intl/server";
import { PageFrame } from "~/app/_components/page-frame";
import { PlaygroundView } from "~/app/_components/playground/playground-view";
import { BROWSER_BACKENDS } from "~/lib/playground";
import { prefetch, trpc } from "~/trpc/server";

export const dynamic = "force-dynamic";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export default async function PlaygroundPage({
  searchParams,
}: {
  searchParams: Promise<{ run?: string; checkpoint?: string; backend?: string }>;
}) {
  const params = await searchParams;
  const runId = params.run && UUID.test(params.run) ? params.run : undefined;
  const checkpointId = params.checkpoint && UUID.test(params.checkpoint) ? params.checkpoint : undefined;
  const backend = BROWSER_BACKENDS.find((b) => b === params.backend);
  const [t] = await Promise.all([
    getTranslations("PlaygroundPage"),
    prefetch(trpc.launch.options.queryOptions()),
  ]);
  return (
    <PageFrame title={t("title")} lead={t("lead")}>
      <PlaygroundView initialRunId={runId} initialCheckpointId={checkpointId} backend={backend} />
    </PageFrame>
  );
}
