import { getTranslations } from "next-intl/server";
import { CompareView } from "~/app/_components/compare/compare-view";
import { PageFrame } from "~/app/_components/page-frame";
import { prefetch, trpc } from "~/trpc/server";

export const dynamic = "force-dynamic";

export default async function ComparePage({
  searchParams,
}: {
  searchParams: Promise<{ runs?: string; tab?: string }>;
}) {
  const params = await searchParams;
  const ids = (params.runs ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => /^[0-9a-f-]{36}$/i.test(s))
    .slice(0, 10);
  const tab = params.tab === "config" || params.tab === "samples" ? params.tab : "charts";
  const [t] = await Promise.all([
    getTranslations("ComparePage"),
    prefetch(trpc.runs.list.queryOptions({ kinds: [], statuses: [], limit: 200 })),
  ]);
  return (
    <PageFrame title={t("title")} lead={t("lead")}>
      <CompareView ids={ids} tab={tab} />
    </PageFrame>
  );
}
