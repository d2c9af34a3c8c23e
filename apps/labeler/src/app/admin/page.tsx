import { getTranslations } from "next-intl/server";
import { requireAdmin } from "~/server/session";
import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { PageHead } from "../_components/page-head";
import { GenerateForm } from "./generate-form";
import { ImportForm } from "./import-form";
import { Overview } from "./overview";

export const dynamic = "force-dynamic";

export default async function AdminPage() {
  await requireAdmin("/admin");
  const t = await getTranslations("Admin");
  await prefetch(trpc.admin.overview.queryOptions());
  return (
    <HydrateClient>
      <PageHead title={t("title")} intro={t("intro")} />
      <div className="stack">
        <Overview />
        <div className="two-columns">
          <ImportForm />
          <GenerateForm />
        </div>
      </div>
    </HydrateClient>
  );
}
