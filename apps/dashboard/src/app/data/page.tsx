import { getTranslations } from "next-intl/server";
import { DataOverview } from "~/app/_components/data/data-view";
import { HydrateClient, prefetch, trpc } from "~/trpc/server";

export const dynamic = "force-dynamic";

export default async function DataPage() {
  const [t] = await Promise.all([getTranslations("DataPage"), prefetch(trpc.data.overview.queryOptions())]);
  return (
    <HydrateClient>
      <div className="page-head">
        <h1>{t("title")}</h1>
        <p className="muted">{t("lead")}</p>
      </div>
      <DataOverview />
    </HydrateClient>
  );
}
