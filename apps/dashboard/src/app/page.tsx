import { DatabaseStatus } from "@rlhf/ui/database-status";
import { getTranslations } from "next-intl/server";
import { PageFrame } from "~/app/_components/page-frame";
import { prefetch, trpc } from "~/trpc/server";
import { RunsView } from "./_components/runs-view";

// Rendered per request from the database, never at build time.
export const dynamic = "force-dynamic";

export default async function RunsPage() {
  // Prefetched so the first paint has data; the client components then poll on their own.
  const [t] = await Promise.all([
    getTranslations("RunsPage"),
    prefetch(trpc.runs.list.queryOptions({ kinds: [], statuses: [], limit: 200 })),
    prefetch(trpc.health.status.queryOptions()),
  ]);
  return (
    <PageFrame title={t("title")} lead={t("lead")}>
      <RunsView aside={<DatabaseStatus />} />
    </PageFrame>
  );
}
