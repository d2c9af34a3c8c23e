"use client";

import { LIVE_REFETCH_MS } from "@rlhf/ui/query-client";
import { useQuery } from "@tanstack/react-query";
import type { RouterOutputs } from "~/server/api/root";
import { useTRPC } from "~/trpc/react";
import { dateTime, timeAgo } from "./format";
import { QueryError } from "./query-error";

type Dataset = RouterOutputs["datasets"]["list"][number];

export function DatasetsTable() {
  const trpc = useTRPC();
  const datasets = useQuery(trpc.datasets.list.queryOptions(undefined, { refetchInterval: LIVE_REFETCH_MS }));

  if (datasets.isPending) return <p className="empty">Loading datasets…</p>;
  return (
    <>
      {datasets.isError && <QueryError error={datasets.error} what="datasets" />}
      {datasets.data && datasets.data.length === 0 && <EmptyState />}
      {datasets.data && datasets.data.length > 0 && (
        <div className="table-scroll">
          <table className="table" data-testid="datasets-table">
            <thead>
              <tr>
                <th>Dataset</th>
                <th>Kind</th>
                <th>Labeling progress</th>
                <th>Rankings per task</th>
                <th>Created</th>
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
  const fraction = dataset.taskCount > 0 ? dataset.completedCount / dataset.taskCount : 0;
  return (
    <tr>
      <td className="wrap">
        <div className="cell-title">{dataset.name}</div>
        <div className="muted">{dataset.description || dataset.source}</div>
      </td>
      <td>
        <span className="tag">{dataset.kind}</span>
      </td>
      <td className="progress-cell">
        {dataset.taskCount === 0 ? (
          <span className="muted">no comparisons</span>
        ) : (
          <>
            <div className="progress" role="progressbar" aria-valuenow={Math.round(fraction * 100)}>
              <div className="progress__bar" style={{ width: `${fraction * 100}%` }} />
            </div>
            <span className="muted num">
              {dataset.completedCount.toLocaleString("en")} / {dataset.taskCount.toLocaleString("en")}{" "}
              complete · {Math.floor(fraction * 100)}%
            </span>
          </>
        )}
      </td>
      <td className="num">{dataset.requiredRankings}</td>
      <td>
        <time
          dateTime={dataset.createdAt.toISOString()}
          title={dateTime(dataset.createdAt)}
          suppressHydrationWarning
        >
          {timeAgo(dataset.createdAt, now)}
        </time>
      </td>
    </tr>
  );
}

function EmptyState() {
  return (
    <div className="empty">
      <p>
        <strong>No datasets yet.</strong>
      </p>
      <p>The demo pipeline creates a preference dataset of comparisons to rank. From the repository root:</p>
      <pre className="command">pnpm rlhf pipeline --demo</pre>
      <p className="muted">
        Its datasets appear here as they are created. Admins import their own under Admin → Import.
      </p>
    </div>
  );
}
