"use client";

import { useFormat } from "@rlhf/ui/i18n/use-format";
import { LIVE_REFETCH_MS } from "@rlhf/ui/query-client";
import { useQuery } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import type { RouterOutputs } from "~/server/api/root";
import { useTRPC } from "~/trpc/react";
import { QueryError } from "../query-error";
import { ImportDatasetForm } from "./import-form";

const percent = (x: number | null | undefined) =>
  x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`;

type Dataset = RouterOutputs["data"]["overview"][number];

/** Datasets with their sizes; preference datasets with labeling progress, agreement and trainable pairs. */
export function DataOverview() {
  const t = useTranslations("DataView");
  const trpc = useTRPC();
  const overview = useQuery(
    trpc.data.overview.queryOptions(undefined, { refetchInterval: LIVE_REFETCH_MS * 2 }),
  );
  if (overview.isError) return <QueryError error={overview.error} what={t("what")} />;
  if (!overview.data) return <p className="muted">{t("loading")}</p>;
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
  const t = useTranslations("DataView.totals");
  const { integer } = useFormat();
  const totals = {
    pairs: preferences.reduce((n, d) => n + d.pairs, 0),
    rankings: preferences.reduce((n, d) => n + d.rankings - d.skipped - d.allBad, 0),
    tasks: preferences.reduce((n, d) => n + d.tasks, 0),
    complete: preferences.reduce((n, d) => n + d.completeTasks, 0),
  };
  return (
    <dl className="stat-cards">
      <div className="stat-card">
        <dt>{t("pairs")}</dt>
        <dd data-testid="total-pairs">{integer(totals.pairs)}</dd>
      </div>
      <div className="stat-card">
        <dt>{t("rankings")}</dt>
        <dd>{integer(totals.rankings)}</dd>
      </div>
      <div className="stat-card">
        <dt>{t("complete")}</dt>
        <dd>
          {integer(totals.complete)} <span className="muted">/ {integer(totals.tasks)}</span>
        </dd>
      </div>
      <div className="stat-card">
        <dt>{t("datasets")}</dt>
        <dd>{sets.length}</dd>
      </div>
    </dl>
  );
}

function PreferenceTable({ preferences }: { preferences: Dataset[] }) {
  const t = useTranslations("DataView.preferences");
  return (
    <section className="card card--flush" aria-labelledby="prefs-heading">
      <div className="toolbar">
        <h2 id="prefs-heading">{t("heading")}</h2>
        <span className="muted">{t("hint")}</span>
      </div>
      {preferences.length === 0 ? (
        <p className="empty muted">{t("none")}</p>
      ) : (
        <div className="table-scroll">
          <table className="table" data-testid="preference-datasets">
            <thead>
              <tr>
                <th>{t("dataset")}</th>
                <th>{t("progress")}</th>
                <th className="metric-cell">{t("rankings")}</th>
                <th className="metric-cell">{t("skipped")}</th>
                <th className="metric-cell">{t("annotators")}</th>
                <th className="metric-cell">{t("agreement")}</th>
                <th className="metric-cell" title={t("alphaTitle")}>
                  {t("alpha")}
                </th>
                <th className="metric-cell">{t("pairs")}</th>
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
  const t = useTranslations("DataView.preferences");
  const { integer } = useFormat();
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
          {t("progressLine", {
            complete: integer(d.completeTasks),
            tasks: integer(d.tasks),
            required: d.requiredRankings,
            completions: integer(d.completions),
          })}
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
        title={d.agreement ? t("agreementOver", { tasks: d.agreement.overlappingTasks }) : t("agreementNone")}
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
  const t = useTranslations("DataView.others");
  const { integer } = useFormat();
  return (
    <section className="card card--flush" aria-labelledby="datasets-heading">
      <div className="toolbar">
        <h2 id="datasets-heading">{t("heading")}</h2>
      </div>
      <div className="table-scroll">
        <table className="table" data-testid="datasets">
          <thead>
            <tr>
              <th>{t("dataset")}</th>
              <th>{t("kind")}</th>
              <th>{t("source")}</th>
              <th className="metric-cell">{t("train")}</th>
              <th className="metric-cell">{t("eval")}</th>
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
