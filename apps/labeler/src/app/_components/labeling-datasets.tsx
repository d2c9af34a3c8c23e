"use client";

import { LIVE_REFETCH_MS } from "@rlhf/ui/query-client";
import { useQuery } from "@tanstack/react-query";
import type { Route } from "next";
import Link from "next/link";
import { useTranslations } from "next-intl";
import { useTRPC } from "~/trpc/react";
import { QueryError } from "./query-error";

/** The preference datasets, with how many tasks are open to the signed-in annotator in each. */
export function LabelingDatasets() {
  const t = useTranslations("LabelingDatasets");
  const trpc = useTRPC();
  const datasets = useQuery(
    trpc.labeling.datasets.queryOptions(undefined, { refetchInterval: LIVE_REFETCH_MS }),
  );
  if (datasets.isPending) return <p className="empty">{t("loading")}</p>;
  if (datasets.isError) return <QueryError error={datasets.error} what={t("what")} />;
  if (datasets.data.length === 0) {
    return (
      <section className="card empty">
        <p>
          <strong>{t("nothing")}</strong>
        </p>
        <p className="muted">{t.rich("nothingHint", { code: (chunks) => <code>{chunks}</code> })}</p>
      </section>
    );
  }
  return (
    <ul className="dataset-cards" data-testid="labeling-datasets">
      {datasets.data.map((d) => (
        <li key={d.id} className="card dataset-card">
          <div>
            <div className="cell-title">{d.name}</div>
            <div className="muted">{d.description || t("tasks", { count: d.tasks })}</div>
          </div>
          <div className="dataset-card__numbers num">
            <span>{t.rich("open", { count: d.open, strong: (chunks) => <strong>{chunks}</strong> })}</span>
            <span className="muted">{t("answered", { count: d.mine })}</span>
          </div>
          {d.open > 0 ? (
            <Link className="button button--primary" href={`/label/${d.id}` as Route}>
              {t("start")}
            </Link>
          ) : (
            <span className="muted">{t("allDone")}</span>
          )}
        </li>
      ))}
    </ul>
  );
}
