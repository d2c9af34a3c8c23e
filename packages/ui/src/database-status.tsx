"use client";

import { useQuery } from "@tanstack/react-query";
import { useLocale, useTranslations } from "next-intl";
import { integer } from "./format";
import { LIVE_REFETCH_MS } from "./query-client";
import { useServerMessage } from "./server-message";
import { useSharedTRPC } from "./trpc/react";

/** Is the workbench database there, which one, migrated, and how much is in it. */
export function DatabaseStatus() {
  const t = useTranslations("ui.DatabaseStatus");
  const trpc = useSharedTRPC();
  const serverMessage = useServerMessage();
  const status = useQuery(trpc.health.status.queryOptions(undefined, { refetchInterval: LIVE_REFETCH_MS }));
  // The latest answer wins: an error after good data means the database (or this server) just went away.
  const data = status.isError ? undefined : status.data;
  const problem = status.isError
    ? serverMessage(status.error).text
    : data && !data.database.ok
      ? data.database.error
      : undefined;

  return (
    <section className="card" aria-labelledby="database-heading" data-testid="database-status">
      <div className="card__head">
        <h2 id="database-heading">{t("heading")}</h2>
        {problem !== undefined && <span className="dot dot--down">{t("unreachable")}</span>}
        {data?.database.ok && <span className="dot dot--ok">{t("connected")}</span>}
      </div>
      {status.isPending && <p className="muted">{t("checking")}</p>}
      {problem !== undefined && <p className="status-problem">{problem}</p>}
      {data?.database.ok && data.counts && (
        <>
          <dl className="facts">
            <dt>{t("server")}</dt>
            <dd>{data.database.mode === "embedded" ? t("embedded") : t("external")}</dd>
            <dt>{t("version")}</dt>
            <dd>{t("postgres", { version: data.database.serverVersion.split(" ")[0] ?? "" })}</dd>
            <dt>{t("migrations")}</dt>
            <dd className="num">{t("applied", { count: data.database.migrations })}</dd>
          </dl>
          <dl className="counts">
            <Count label={t("runs")} value={data.counts.runs} />
            <Count label={t("datasets")} value={data.counts.datasets} />
            <Count label={t("comparisons")} value={data.counts.comparisonTasks} />
            <Count label={t("rankings")} value={data.counts.rankings} />
          </dl>
        </>
      )}
    </section>
  );
}

function Count({ label, value }: { label: string; value: number }) {
  const locale = useLocale();
  return (
    <div className="counts__item">
      <dt>{label}</dt>
      <dd className="num">{integer(value, locale)}</dd>
    </div>
  );
}
