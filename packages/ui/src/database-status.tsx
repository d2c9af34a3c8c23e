"use client";

import { useQuery } from "@tanstack/react-query";
import { LIVE_REFETCH_MS } from "./query-client";
import { useSharedTRPC } from "./trpc/react";

/** Is the workbench database there, which one, migrated, and how much is in it. */
export function DatabaseStatus() {
  const trpc = useSharedTRPC();
  const status = useQuery(trpc.health.status.queryOptions(undefined, { refetchInterval: LIVE_REFETCH_MS }));
  // The latest answer wins: an error after good data means the database (or this server) just went away.
  const data = status.isError ? undefined : status.data;
  const problem = status.isError
    ? status.error.message
    : data && !data.database.ok
      ? data.database.error
      : undefined;

  return (
    <section className="card" aria-labelledby="database-heading" data-testid="database-status">
      <div className="card__head">
        <h2 id="database-heading">Database</h2>
        {problem !== undefined && <span className="dot dot--down">unreachable</span>}
        {data?.database.ok && <span className="dot dot--ok">connected</span>}
      </div>
      {status.isPending && <p className="muted">Checking…</p>}
      {problem !== undefined && <p className="status-problem">{problem}</p>}
      {data?.database.ok && data.counts && (
        <>
          <dl className="facts">
            <dt>Server</dt>
            <dd>{data.database.mode === "embedded" ? "embedded" : "external (DATABASE_URL)"}</dd>
            <dt>Version</dt>
            <dd>PostgreSQL {data.database.serverVersion.split(" ")[0]}</dd>
            <dt>Migrations</dt>
            <dd className="num">{data.database.migrations} applied</dd>
          </dl>
          <dl className="counts">
            <Count label="runs" value={data.counts.runs} />
            <Count label="datasets" value={data.counts.datasets} />
            <Count label="comparisons" value={data.counts.comparisonTasks} />
            <Count label="rankings" value={data.counts.rankings} />
          </dl>
        </>
      )}
    </section>
  );
}

function Count({ label, value }: { label: string; value: number }) {
  return (
    <div className="counts__item">
      <dt>{label}</dt>
      <dd className="num">{value.toLocaleString("en")}</dd>
    </div>
  );
}
