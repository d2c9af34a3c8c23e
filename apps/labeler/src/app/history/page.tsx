import { getTranslations } from "next-intl/server";
import { requireUser } from "~/server/session";
import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { PageHead } from "../_components/page-head";
import { History } from "./history";

export const dynamic = "force-dynamic";

export default async function HistoryPage() {
  await requireUser("/history");
  const t = await getTranslations("History");
  await prefetch(trpc.labeling.mine.queryOptions());
  return (
    <HydrateClient>
      <PageHead title={t("title")} intro={t("intro")} />
      <History />
    </HydrateClient>
  );
}
