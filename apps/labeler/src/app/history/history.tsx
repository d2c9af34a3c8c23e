"use client";

import { useQuery } from "@tanstack/react-query";
import type { Route } from "next";
import Link from "next/link";
import { useTRPC } from "~/trpc/react";
import { timeAgo } from "../_components/format";
import { QueryError } from "../_components/query-error";

export function History() {
  const trpc = useTRPC();
  const mine = useQuery(trpc.labeling.mine.queryOptions());
  if (mine.isPending) return <p className="empty">Loading…</p>;
  if (mine.isError) return <QueryError error={mine.error} what="your answers" />;
  if (mine.data.length === 0) return <p className="card empty">You have not answered any task yet.</p>;
  return (
    <section className="card card--flush">
      <table className="table" data-testid="history">
        <thead>
          <tr>
            <th>Prompt</th>
            <th>Dataset</th>
            <th>Answer</th>
            <th>When</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {mine.data.map((r) => (
            <tr key={r.taskId}>
              <td className="wrap">{r.prompt.length > 90 ? `${r.prompt.slice(0, 90)}…` : r.prompt}</td>
              <td>{r.dataset}</td>
              <td>{r.skipped ? "skipped" : r.allBad ? "all bad" : `ranked ${r.responses}`}</td>
              <td suppressHydrationWarning>{timeAgo(r.updatedAt)}</td>
              <td>
                <Link className="button button--ghost" href={`/history/${r.taskId}` as Route}>
                  Open
                </Link>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
