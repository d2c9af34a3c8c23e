"use client";

import { useFormat } from "@rlhf/ui/i18n/use-format";
import { LIVE_REFETCH_MS } from "@rlhf/ui/query-client";
import { useQuery } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import type { RouterOutputs } from "~/server/api/root";
import { useTRPC } from "~/trpc/react";
import { QueryError } from "./query-error";

type Dataset = RouterOutputs["datasets"]["list"][number];

const KNOWN_SOURCES = ["import", "demo"] as const;
const isKnownSource = (source: string): source is (typeof KNOWN_SOURCES)[number] =>
  (KNOWN_SOURCES as readonly string[]).includes(source);

export function DatasetsTable() {
  const t = useTranslations("DatasetsTable");
  const trpc = useTRPC();
  const datasets = useQuery(trpc.datasets.list.queryOptions(undefined, { refetchInterval: LIVE_REFETCH_MS }));

  if (datasets.isPending) return <p className="empty">{t("loading")}</p>;
  return (
    <>
      {datasets.isError && <QueryError error={datasets.error} what={t("what")} />}
      {datasets.data && datasets.data.length === 0 && <EmptyState />}
      {datasets.data && datasets.data.length > 0 && (
        <div className="table-scroll">
          <table className="table" data-testid="datasets-table">
            <thead>
              <tr>
                <th>{t("dataset")}</th>
                <th>{t("kind")}</th>
                <th>{t("progress")}</th>
                <th>{t("rankingsPerTask")}</th>
                <th>{t("created")}</th>
              </tr>
            </thead>
            <tbody>
              {datasets.data.map((dataset) => (
                <DatasetRow key={dataset.id} dataset={dataset} now={datasets.dataUpdatedAt} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function DatasetRow({ dataset, now }: { dataset: Dataset; now: number }) {
  const t = useTranslations("DatasetsTable");
  const format = useFormat();
  // Where a dataset came from: the workbench's own sources by name, anything else as written.
  const sourceName = (source: string) => (isKnownSource(source) ? t(`sources.${source}`) : source);
  const fraction = dataset.taskCount > 0 ? dataset.completedCount / dataset.taskCount : 0;
  return (
    <tr>
      <td className="wrap">
        <div className="cell-title">{dataset.name}</div>
        <div className="muted">{dataset.description || sourceName(dataset.source)}</div>
      </td>
      <td>
        <span className="tag">{t(`kinds.${dataset.kind}`)}</span>
      </td>
      <td className="progress-cell">
        {dataset.taskCount === 0 ? (
          <span className="muted">{t("noComparisons")}</span>
        ) : (
          <>
            <div className="progress" role="progressbar" aria-valuenow={Math.round(fraction * 100)}>
              <div className="progress__bar" style={{ width: `${fraction * 100}%` }} />
            </div>
            <span className="muted num">
              {t("complete", {
                done: format.integer(dataset.completedCount),
                total: format.integer(dataset.taskCount),
                percent: Math.floor(fraction * 100),
              })}
            </span>
          </>
        )}
      </td>
      <td className="num">{dataset.requiredRankings}</td>
      <td>
        <time
          dateTime={dataset.createdAt.toISOString()}
          title={format.dateTime(dataset.createdAt)}
          suppressHydrationWarning
        >
          {format.timeAgo(dataset.createdAt, now)}
        </time>
      </td>
    </tr>
  );
}

function EmptyState() {
  const t = useTranslations("DatasetsTable");
  return (
    <div className="empty">
      <p>
        <strong>{t("empty")}</strong>
      </p>
      <p>{t("emptyHint")}</p>
      <pre className="command">pnpm rlhf pipeline --demo</pre>
      <p className="muted">{t("emptyAfter")}</p>
    </div>
  );
}
