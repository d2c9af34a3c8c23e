"use client";

import { useQuery } from "@tanstack/react-query";
import type { RouterOutputs } from "~/server/api/root";
import { LIVE_REFETCH_MS } from "~/trpc/query-client";
import { useTRPC } from "~/trpc/react";
import { dateTime, duration, timeAgo } from "./format";
import { QueryError } from "./query-error";

type Run = RouterOutputs["runs"]["list"][number];

export function RunsTable() {
  const trpc = useTRPC();
  const runs = useQuery(trpc.runs.list.queryOptions(undefined, { refetchInterval: LIVE_REFETCH_MS }));

  if (runs.isPending) return <p className="empty">Loading runs…</p>;
  return (
    <>
      {runs.isError && <QueryError error={runs.error} what="runs" />}
      {runs.data && runs.data.length === 0 && <EmptyState />}
      {runs.data && runs.data.length > 0 && (
        <div className="table-scroll">
          <table className="table" data-testid="runs-table">
            <thead>
              <tr>
                <th>Run</th>
                <th>Kind</th>
                <th>Status</th>
                <th>Progress</th>
                <th>Backend</th>
                <th>Created</th>
                <th>Duration</th>
              </tr>
            </thead>
            <tbody>
              {runs.data.map((run) => (
                <RunRow key={run.id} run={run} now={runs.dataUpdatedAt} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function RunRow({ run, now }: { run: Run; now: number }) {
  const fraction = run.totalSteps ? Math.min(1, run.step / run.totalSteps) : undefined;
  const end = run.finishedAt?.getTime() ?? (run.status === "running" ? now : undefined);
  return (
    <tr>
      <td>
        <div className="cell-title">{run.name}</div>
        <div className="mono muted" title={run.id}>
          {run.id.slice(0, 8)}
        </div>
      </td>
      <td>
        <span className="tag">{run.kind}</span>
      </td>
      <td>
        <span className={`status status--${run.status}`}>{run.status}</span>
      </td>
      <td className="progress-cell">
        {fraction === undefined ? (
          <span className="muted">step {run.step.toLocaleString("en")}</span>
        ) : (
          <>
            <div className="progress" role="progressbar" aria-valuenow={Math.round(fraction * 100)}>
              <div className="progress__bar" style={{ width: `${fraction * 100}%` }} />
            </div>
            <span className="muted num">
              {run.step.toLocaleString("en")} / {run.totalSteps!.toLocaleString("en")}
            </span>
          </>
        )}
      </td>
      <td>{run.backend ?? <span className="muted">—</span>}</td>
      <td>
        <time dateTime={run.createdAt.toISOString()} title={dateTime(run.createdAt)} suppressHydrationWarning>
          {timeAgo(run.createdAt, now)}
        </time>
      </td>
      <td className="num">
        {run.startedAt && end !== undefined ? (
          duration(end - run.startedAt.getTime())
        ) : (
          <span className="muted">—</span>
        )}
      </td>
    </tr>
  );
}

function EmptyState() {
  return (
    <div className="empty">
      <p>
        <strong>No runs yet.</strong>
      </p>
      <p>
        Start the demo pipeline (pretraining → SFT → reward model → PPO on a tiny model) from the repository
        root:
      </p>
      <pre className="command">pnpm rlhf pipeline --demo</pre>
      <p className="muted">
        Its runs appear here as they are queued. Launching runs from this dashboard arrives later on the
        Launch page.
      </p>
    </div>
  );
}
