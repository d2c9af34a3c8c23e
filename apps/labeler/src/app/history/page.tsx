import { getTranslations } from "next-intl/server";
import { requireUser } from "~/server/session";
import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { History } from "./history";

export const dynamic = "force-dynamic";

export default async function HistoryPage() {
  await requireUser("/history");
  const t = await getTranslations("History");
  await prefetch(trpc.labeling.mine.queryOptions());
  return (
    <HydrateClient>
      <div className="page-head">
        <h1>{t("title")}</h1>
        <p className="muted">{t("intro")}</p>
      </div>
      <History />
    </HydrateClient>
  );
}
