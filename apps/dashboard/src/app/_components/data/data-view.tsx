"use client";

import { LIVE_REFETCH_MS } from "@rlhf/ui/query-client";
import { useQuery } from "@tanstack/react-query";
import type { RouterOutputs } from "~/server/api/root";
import { useTRPC } from "~/trpc/react";
import { integer } from "../format";
import { QueryError } from "../query-error";
import { ImportDatasetForm } from "./import-form";

const percent = (x: number | null | undefined) =>
  x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`;

type Dataset = RouterOutputs["data"]["overview"][number];

/** Datasets with their sizes; preference datasets with labeling progress, agreement and trainable pairs. */
export function DataOverview() {
  const trpc = useTRPC();
  const overview = useQuery(
    trpc.data.overview.queryOptions(undefined, { refetchInterval: LIVE_REFETCH_MS * 2 }),
  );
  if (overview.isError) return <QueryError error={overview.error} what="datasets" />;
  if (!overview.data) return <p className="muted">Loading datasets…</p>;
  const sets = overview.data;
  const preferences = sets.filter((d) => d.kind === "preferences");
  const others = sets.filter((d) => d.kind !== "preferences");
  return (
    <div className="stack">
      <Totals sets={sets} preferences={preferences} />
      <PreferenceTable preferences={preferences} />
      <OtherTable others={others} />
      <ImportDatasetForm />
    </div>
  );
}

function Totals({ sets, preferences }: { sets: Dataset[]; preferences: Dataset[] }) {
  const totals = {
    pairs: preferences.reduce((n, d) => n + d.pairs, 0),
    rankings: preferences.reduce((n, d) => n + d.rankings - d.skipped - d.allBad, 0),
    tasks: preferences.reduce((n, d) => n + d.tasks, 0),
    complete: preferences.reduce((n, d) => n + d.completeTasks, 0),
  };
  return (
    <dl className="stat-cards">
      <div className="stat-card">
        <dt>Preference pairs for training</dt>
        <dd data-testid="total-pairs">{integer(totals.pairs)}</dd>
      </div>
      <div className="stat-card">
        <dt>Rankings (answered)</dt>
        <dd>{integer(totals.rankings)}</dd>
      </div>
      <div className="stat-card">
        <dt>Comparison tasks complete</dt>
        <dd>
          {integer(totals.complete)} <span className="muted">/ {integer(totals.tasks)}</span>
        </dd>
      </div>
      <div className="stat-card">
        <dt>Datasets</dt>
        <dd>{sets.length}</dd>
      </div>
    </dl>
  );
}

function PreferenceTable({ preferences }: { preferences: Dataset[] }) {
  return (
    <section className="card card--flush" aria-labelledby="prefs-heading">
      <div className="toolbar">
        <h2 id="prefs-heading">Preference data</h2>
        <span className="muted">
          rankings from the labeler (people and the demo oracle); K-wise rankings expand to C(K,2) pairs
        </span>
      </div>
      {preferences.length === 0 ? (
        <p className="empty muted">
          No preference datasets yet: import tasks in the labeler, or run a generate job.
        </p>
      ) : (
        <div className="table-scroll">
          <table className="table" data-testid="preference-datasets">
            <thead>
              <tr>
                <th>Dataset</th>
                <th>Labeling progress</th>
                <th className="metric-cell">Rankings</th>
                <th className="metric-cell">Skipped / all bad</th>
                <th className="metric-cell">Annotators</th>
                <th className="metric-cell">Agreement</th>
                <th className="metric-cell" title="Krippendorff's alpha over the ranks, ordinal metric">
                  Alpha
                </th>
                <th className="metric-cell">Pairs</th>
              </tr>
            </thead>
            <tbody>
              {preferences.map((d) => (
                <PreferenceRow key={d.id} d={d} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function PreferenceRow({ d }: { d: Dataset }) {
  const done = d.tasks ? d.completeTasks / d.tasks : 0;
  return (
    <tr>
      <td className="wrap">
        <div className="cell-title">{d.name}</div>
        <div className="muted">{d.description}</div>
      </td>
      <td>
        <div className="bar" role="progressbar" aria-valuenow={Math.round(done * 100)}>
          <div className="bar__fill" style={{ width: `${done * 100}%` }} />
        </div>
        <span className="muted num">
          {integer(d.completeTasks)} / {integer(d.tasks)} tasks complete · {d.requiredRankings} ranking
          {d.requiredRankings === 1 ? "" : "s"} each · {integer(d.completions)} completions
        </span>
      </td>
      <td className="metric-cell">
        {integer(d.rankings)} <span className="muted">/ {integer(d.rankingsNeeded)}</span>
      </td>
      <td className="metric-cell">
        {integer(d.skipped)} / {integer(d.allBad)}
      </td>
      <td className="metric-cell">{d.annotators}</td>
      <td
        className="metric-cell"
        title={
          d.agreement
            ? `over ${d.agreement.overlappingTasks} tasks ranked by 2+ annotators`
            : "no task has two rankings yet"
        }
      >
        {percent(d.agreement?.pairwiseAgreement)}
      </td>
      <td className="metric-cell">{d.agreement?.alpha != null ? d.agreement.alpha.toFixed(2) : "—"}</td>
      <td className="metric-cell">
        <strong>{integer(d.pairs)}</strong>
      </td>
    </tr>
  );
}

function OtherTable({ others }: { others: Dataset[] }) {
  return (
    <section className="card card--flush" aria-labelledby="datasets-heading">
      <div className="toolbar">
        <h2 id="datasets-heading">Corpora, SFT pairs and prompts</h2>
      </div>
      <div className="table-scroll">
        <table className="table" data-testid="datasets">
          <thead>
            <tr>
              <th>Dataset</th>
              <th>Kind</th>
              <th>Source</th>
              <th className="metric-cell">Train</th>
              <th className="metric-cell">Eval</th>
            </tr>
          </thead>
          <tbody>
            {others.map((d) => (
              <tr key={d.id}>
                <td className="wrap">
                  <div className="cell-title">{d.name}</div>
                  <div className="muted">{d.description}</div>
                </td>
                <td>
                  <span className="tag">{d.kind}</span>
                </td>
                <td className="muted">{d.source}</td>
                <td className="metric-cell">{integer(d.examples.train)}</td>
                <td className="metric-cell">{integer(d.examples.eval)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
