import { getTranslations } from "next-intl/server";
import { DataOverview } from "~/app/_components/data/data-view";
import { PageFrame } from "~/app/_components/page-frame";
import { prefetch, trpc } from "~/trpc/server";

export const dynamic = "force-dynamic";

export default async function DataPage() {
  const [t] = await Promise.all([getTranslations("DataPage"), prefetch(trpc.data.overview.queryOptions())]);
  return (
    <PageFrame title={t("title")} lead={t("lead")}>
      <DataOverview />
    </PageFrame>
  );
}
