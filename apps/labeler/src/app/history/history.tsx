"use client";

import { useFormat } from "@rlhf/ui/i18n/use-format";
import { useQuery } from "@tanstack/react-query";
import type { Route } from "next";
import Link from "next/link";
import { useTranslations } from "next-intl";
import { useTRPC } from "~/trpc/react";
import { QueryError } from "../_components/query-error";

export function History() {
  const t = useTranslations("History");
  const format = useFormat();
  const trpc = useTRPC();
  const mine = useQuery(trpc.labeling.mine.queryOptions());
  if (mine.isPending) return <p className="empty">{t("loading")}</p>;
  if (mine.isError) return <QueryError error={mine.error} what={t("what")} />;
  if (mine.data.length === 0) return <p className="card empty">{t("empty")}</p>;
  return (
    <section className="card card--flush">
      <table className="table" data-testid="history">
        <thead>
          <tr>
            <th>{t("prompt")}</th>
            <th>{t("dataset")}</th>
            <th>{t("answer")}</th>
            <th>{t("when")}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {mine.data.map((r) => (
            <tr key={r.taskId}>
              <td className="wrap">{r.prompt.length > 90 ? `${r.prompt.slice(0, 90)}…` : r.prompt}</td>
              <td>{r.dataset}</td>
              <td>
                {r.skipped ? t("skipped") : r.allBad ? t("allBad") : t("ranked", { count: r.responses })}
              </td>
              <td suppressHydrationWarning>{format.timeAgo(r.updatedAt)}</td>
              <td>
                <Link className="button button--ghost" href={`/history/${r.taskId}` as Route}>
                  {t("open")}
                </Link>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
