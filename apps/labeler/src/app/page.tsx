import { DatabaseStatus } from "@rlhf/ui/database-status";
import { redirect } from "next/navigation";
import { getTranslations } from "next-intl/server";
import { currentUser } from "~/server/session";
import { HydrateClient, prefetch, trpc } from "~/trpc/server";
import { DatasetsTable } from "./_components/datasets-table";
import { LabelingDatasets } from "./_components/labeling-datasets";
import { PageHead } from "./_components/page-head";

// Rendered per request from the database, never at build time.
export const dynamic = "force-dynamic";

export default async function HomePage() {
  const [current, t] = await Promise.all([currentUser(), getTranslations("Home")]);
  if (current.databaseError !== undefined) {
    // Without a database nobody can sign in: say what is wrong and keep polling until it is back.
    await prefetch(trpc.health.status.queryOptions());
    return (
      <HydrateClient>
        <PageHead title={t("labeler")} />
        <div className="layout">
          <section className="card">
            <div className="alert" role="alert">
              <strong>{t("unavailable")}</strong>
              <p className="alert__message">{current.databaseError}</p>
              <p className="muted">{t("databaseHint")}</p>
            </div>
          </section>
          <aside>
            <DatabaseStatus />
          </aside>
        </div>
      </HydrateClient>
    );
  }
  if (!current.user) redirect(current.needsSetup ? "/setup" : "/login");

  await Promise.all([
    prefetch(trpc.labeling.datasets.queryOptions()),
    prefetch(trpc.datasets.list.queryOptions()),
    prefetch(trpc.health.status.queryOptions()),
  ]);
  return (
    <HydrateClient>
      <PageHead title={t("title")} intro={t("intro")} />
      <div className="layout">
        <div className="stack">
          <LabelingDatasets />
          <section className="card card--flush" aria-labelledby="datasets-heading">
            <h2 id="datasets-heading" className="card__title">
              {t("allDatasets")}
            </h2>
            <DatasetsTable />
          </section>
        </div>
        <aside>
          <DatabaseStatus />
        </aside>
      </div>
    </HydrateClient>
  );
}
