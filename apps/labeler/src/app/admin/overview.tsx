"use client";

import { LIVE_REFETCH_MS } from "@rlhf/ui/query-client";
import { useQuery } from "@tanstack/react-query";
import type { Route } from "next";
import Link from "next/link";
import { useTRPC } from "~/trpc/react";
import { QueryError } from "../_components/query-error";

/** Export links for a dataset: the same files as `rlhf export preferences`. */
export function ExportLinks({ dataset }: { dataset: string }) {
  const href = (format: string) => `/api/export?dataset=${encodeURIComponent(dataset)}&format=${format}`;
  return (
    <span className="export-links">
      <a href={href("trl")} download>
        TRL pairs
      </a>
      <a href={href("trl-conversational")} download>
        TRL messages
      </a>
      <a href={href("rankings")} download>
        rankings
      </a>
    </span>
  );
}

export function Overview() {
  const trpc = useTRPC();
  const overview = useQuery(
    trpc.admin.overview.queryOptions(undefined, { refetchInterval: LIVE_REFETCH_MS }),
  );
  if (overview.isPending) return <p className="empty">Loading…</p>;
  if (overview.isError) return <QueryError error={overview.error} what="datasets" />;
  return (
    <section className="card card--flush" aria-labelledby="overview-heading">
      <h2 id="overview-heading" className="card__title">
        Preference datasets
      </h2>
      {overview.data.length === 0 ? (
        <p className="empty">No preference datasets yet: import a file below.</p>
      ) : (
        <div className="table-scroll">
          <table className="table" data-testid="overview">
            <thead>
              <tr>
                <th>Dataset</th>
                <th className="right">Tasks</th>
                <th className="right">Pending</th>
                <th className="right">Completed</th>
                <th className="right">Skipped</th>
                <th className="right">Flagged</th>
                <th className="right">Gold</th>
                <th className="right">Rankings</th>
                <th className="right">Annotators</th>
                <th>Export (JSONL)</th>
              </tr>
            </thead>
            <tbody>
              {overview.data.map((d) => (
                <tr key={d.id}>
                  <td className="wrap">
                    <Link className="cell-title link" href={`/admin/datasets/${d.id}` as Route}>
                      {d.name}
                    </Link>
                    <div className="muted">
                      {d.requiredRankings} ranking{d.requiredRankings === 1 ? "" : "s"} per task
                    </div>
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
