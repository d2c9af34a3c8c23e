"use client";

import { LIVE_REFETCH_MS } from "@rlhf/ui/query-client";
import { useQuery } from "@tanstack/react-query";
import type { Route } from "next";
import Link from "next/link";
import { useTranslations } from "next-intl";
import { useTRPC } from "~/trpc/react";
import { QueryError } from "../_components/query-error";

/** Export links for a dataset: the same files as `rlhf export preferences`. */
export function ExportLinks({ dataset }: { dataset: string }) {
  const t = useTranslations("Overview");
  const href = (format: string) => `/api/export?dataset=${encodeURIComponent(dataset)}&format=${format}`;
  return (
    <span className="export-links">
      <a href={href("trl")} download>
        {t("trlPairs")}
      </a>
      <a href={href("trl-conversational")} download>
        {t("trlMessages")}
      </a>
      <a href={href("rankings")} download>
        {t("rankings")}
      </a>
    </span>
  );
}

export function Overview() {
  const t = useTranslations("Overview");
  const trpc = useTRPC();
  const overview = useQuery(
    trpc.admin.overview.queryOptions(undefined, { refetchInterval: LIVE_REFETCH_MS }),
  );
  if (overview.isPending) return <p className="empty">{t("loading")}</p>;
  if (overview.isError) return <QueryError error={overview.error} what={t("what")} />;
  return (
    <section className="card card--flush" aria-labelledby="overview-heading">
      <h2 id="overview-heading" className="card__title">
        {t("heading")}
      </h2>
      {overview.data.length === 0 ? (
        <p className="empty">{t("empty")}</p>
      ) : (
        <div className="table-scroll">
          <table className="table" data-testid="overview">
            <thead>
              <tr>
                <th>{t("dataset")}</th>
                <th className="right">{t("tasks")}</th>
                <th className="right">{t("pending")}</th>
                <th className="right">{t("completed")}</th>
                <th className="right">{t("skipped")}</th>
                <th className="right">{t("flagged")}</th>
                <th className="right">{t("gold")}</th>
                <th className="right">{t("rankingsColumn")}</th>
                <th className="right">{t("annotators")}</th>
                <th>{t("export")}</th>
              </tr>
            </thead>
            <tbody>
              {overview.data.map((d) => (
                <tr key={d.id}>
                  <td className="wrap">
                    <Link className="cell-title link" href={`/admin/datasets/${d.id}` as Route}>
                      {d.name}
                    </Link>
                    <div className="muted">{t("perTask", { count: d.requiredRankings })}</div>
                  </td>
                  <td className="num right">{d.tasks}</td>
                  <td className="num right">{d.pending}</td>
                  <td className="num right">{d.completed}</td>
                  <td className="num right">{d.skipped}</td>
                  <td className="num right">{d.flagged}</td>
                  <td className="num right">{d.gold}</td>
                  <td className="num right">{d.rankings}</td>
                  <td className="num right">{d.annotators}</td>
                  <td>
                    <ExportLinks dataset={d.name} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
