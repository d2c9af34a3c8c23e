import { getTranslations } from "next-intl/server";
import { requireAdmin } from "~/server/session";
import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { People } from "./people";

export const dynamic = "force-dynamic";

export default async function PeoplePage() {
  const me = await requireAdmin("/admin/users");
  const t = await getTranslations("People");
  await prefetch(trpc.admin.users.queryOptions());
  return (
    <HydrateClient>
      <div className="page-head">
        <h1>{t("title")}</h1>
        <p className="muted">{t("intro")}</p>
      </div>
      <People myId={me.id} />
    </HydrateClient>
  );
}
