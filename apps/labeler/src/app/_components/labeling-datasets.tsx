"use client";

import { LIVE_REFETCH_MS } from "@rlhf/ui/query-client";
import { useQuery } from "@tanstack/react-query";
import type { Route } from "next";
import Link from "next/link";
import { useTRPC } from "~/trpc/react";
import { QueryError } from "./query-error";

/** The preference datasets, with how many tasks are open to the signed-in annotator in each. */
export function LabelingDatasets() {
  const trpc = useTRPC();
  const datasets = useQuery(
    trpc.labeling.datasets.queryOptions(undefined, { refetchInterval: LIVE_REFETCH_MS }),
  );
  if (datasets.isPending) return <p className="empty">Loading…</p>;
  if (datasets.isError) return <QueryError error={datasets.error} what="your datasets" />;
  if (datasets.data.length === 0) {
    return (
      <section className="card empty">
        <p>
          <strong>Nothing to rank yet.</strong>
        </p>
        <p className="muted">
          An admin imports comparison tasks (Admin → Import), or the demo pipeline creates some:{" "}
          <code>pnpm rlhf pipeline --demo</code>.
        </p>
      </section>
    );
  }
  return (
    <ul className="dataset-cards" data-testid="labeling-datasets">
      {datasets.data.map((d) => (
        <li key={d.id} className="card dataset-card">
          <div>
            <div className="cell-title">{d.name}</div>
            <div className="muted">{d.description || `${d.tasks} tasks`}</div>
          </div>
          <div className="dataset-card__numbers num">
            <span>
              <strong>{d.open}</strong> open for you
            </span>
            <span className="muted">{d.mine} answered</span>
          </div>
          {d.open > 0 ? (
            <Link className="button button--primary" href={`/label/${d.id}` as Route}>
              Start ranking
            </Link>
          ) : (
            <span className="muted">all done</span>
          )}
        </li>
      ))}
    </ul>
  );
}
