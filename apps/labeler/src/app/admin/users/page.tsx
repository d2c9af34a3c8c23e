import { getTranslations } from "next-intl/server";
import { requireAdmin } from "~/server/session";
import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { PageHead } from "../../_components/page-head";
import { People } from "./people";

export const dynamic = "force-dynamic";

export default async function PeoplePage() {
  const me = await requireAdmin("/admin/users");
  const t = await getTranslations("People");
  await prefetch(trpc.admin.users.queryOptions());
  return (
    <HydrateClient>
      <PageHead title={t("title")} intro={t("intro")} />
      <People myId={me.id} />
    </HydrateClient>
  );
}
