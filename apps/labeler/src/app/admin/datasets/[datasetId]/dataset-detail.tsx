"use client";

import { LIVE_REFETCH_MS } from "@rlhf/ui/query-client";
import { useServerMessage } from "@rlhf/ui/query-error";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useTranslations } from "next-intl";
import type { FormEvent } from "react";
import type { RouterOutputs } from "~/server/api/root";
import { useTRPC } from "~/trpc/react";
import { QueryError } from "../../../_components/query-error";
import { ExportLinks } from "../../overview";

type Detail = RouterOutputs["admin"]["dataset"];

const pct = (x: number | null) => (x === null ? "–" : `${(x * 100).toFixed(1)}%`);
const fixed = (x: number | null, digits = 2) => (x === null ? "–" : x.toFixed(digits));

/** One dataset for its admin: settings, agreement, annotators, the model leaderboard, gold accuracy. */
export function DatasetDetail({ datasetId }: { datasetId: string }) {
  const t = useTranslations("DatasetDetail");
  const trpc = useTRPC();
  const detail = useQuery(
    trpc.admin.dataset.queryOptions({ datasetId }, { refetchInterval: 5 * LIVE_REFETCH_MS }),
  );
  if (detail.isPending) return <p className="empty">{t("loading")}</p>;
  if (detail.isError) return <QueryError error={detail.error} what={t("what")} />;
  const { dataset, agreement, annotators, leaderboard, gold } = detail.data;
  const goldOf = new Map(gold.map((g) => [g.annotatorId, g]));
  return (
    <>
      <div className="page-head">
        <p className="muted">
          <Link href="/admin" className="link">
            {t("admin")}
          </Link>{" "}
          /
        </p>
        <h1>{dataset.name}</h1>
        <p className="muted">
          {dataset.description} {t("export")} <ExportLinks dataset={dataset.name} />
        </p>
      </div>
      <div className="layout">
        <div className="stack">
          <section className="card" aria-labelledby="agreement-heading" data-testid="agreement">
            <div className="card__head">
              <h2 id="agreement-heading">{t("agreement")}</h2>
              <span className="muted">{t("agreementOn", { count: agreement.overlappingTasks })}</span>
            </div>
            <dl className="counts counts--3">
              <div className="counts__item">
                <dt>{t("pairwiseAgreement")}</dt>
                <dd className="num" data-testid="pairwise-agreement">
                  {pct(agreement.pairwiseAgreement)}
                </dd>
              </div>
              <div className="counts__item">
                <dt>{t("alpha")}</dt>
                <dd className="num" data-testid="alpha">
                  {fixed(agreement.alpha, 3)}
                </dd>
              </div>
              <div className="counts__item">
                <dt>{t("overlapping")}</dt>
                <dd className="num">{agreement.overlappingTasks}</dd>
              </div>
            </dl>
            <p className="muted small">{t("agreementHint")}</p>
            {agreement.byPair.length > 0 && (
              <table className="table table--compact">
                <thead>
                  <tr>
                    <th>{t("annotatorsColumn")}</th>
                    <th className="right">{t("sharedTasks")}</th>
                    <th className="right">{t("agreementColumn")}</th>
                  </tr>
                </thead>
                <tbody>
                  {agreement.byPair.slice(0, 20).map((p) => (
                    <tr key={`${p.a}-${p.b}`}>
                      <td>
                        {p.a} · {p.b}
                      </td>
                      <td className="num right">{p.tasks}</td>
                      <td className="num right">{pct(p.agreement)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>

          <Leaderboard rows={leaderboard} />

          <section className="card card--flush" aria-labelledby="annotators-heading">
            <h2 id="annotators-heading" className="card__title">
              {t("annotators")}
            </h2>
            {annotators.length === 0 ? (
              <p className="empty">{t("nobody")}</p>
            ) : (
              <div className="table-scroll">
                <table className="table" data-testid="annotators">
                  <thead>
                    <tr>
                      <th>{t("annotator")}</th>
                      <th className="right">{t("answers")}</th>
                      <th className="right">{t("skips")}</th>
                      <th className="right">{t("allBad")}</th>
                      <th className="right">{t("flags")}</th>
                      <th className="right">{t("median")}</th>
                      <th className="right">{t("p90")}</th>
                      <th className="right">{t("last24h")}</th>
                      <th className="right">{t("goldAccuracy")}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {annotators.map((a) => {
                      const g = goldOf.get(a.annotatorId);
                      return (
                        <tr key={a.annotatorId}>
                          <td>
                            <div className="cell-title">{a.name}</div>
                            <div className="muted">{a.email}</div>
                          </td>
                          <td className="num right">{a.rankings}</td>
                          <td className="num right">{a.skips}</td>
                          <td className="num right">{a.allBad}</td>
                          <td className="num right">{a.flagsGiven}</td>
                          <td className="num right">{fixed(a.medianSeconds, 1)}</td>
                          <td className="num right">{fixed(a.p90Seconds, 1)}</td>
                          <td className="num right">{a.last24h}</td>
                          <td className="num right">{g ? `${pct(g.accuracy)} (${g.goldTasks})` : "–"}</td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        </div>
        <aside className="stack">
          <Settings dataset={dataset} />
        </aside>
      </div>
    </>
  );
}

function Leaderboard({ rows }: { rows: Detail["leaderboard"] }) {
  const t = useTranslations("DatasetDetail");
  const lo = Math.min(...rows.map((r) => r.lower), 1000);
  const hi = Math.max(...rows.map((r) => r.upper), 1000);
  const x = (v: number) => `${((v - lo) / Math.max(1, hi - lo)) * 100}%`;
  return (
    <section className="card card--flush" aria-labelledby="leaderboard-heading" data-testid="leaderboard">
      <h2 id="leaderboard-heading" className="card__title">
        {t("models")} <span className="muted">{t("modelsHint")}</span>
      </h2>
      {rows.length === 0 ? (
        <p className="empty">{t("noModels")}</p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th>#</th>
              <th>{t("model")}</th>
              <th className="right">{t("rating")}</th>
              <th className="right">{t("ci")}</th>
              <th className="ci-col" />
              <th className="right">{t("battles")}</th>
              <th className="right">{t("wlt")}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={r.model}>
                <td className="num">{i + 1}</td>
                <td className="cell-title">{r.model}</td>
                <td className="num right">{r.rating.toFixed(0)}</td>
                <td className="num right muted">
                  {r.lower.toFixed(0)} – {r.upper.toFixed(0)}
                </td>
                <td className="ci-col">
                  <div className="ci">
                    <div
                      className="ci__bar"
                      style={{ left: x(r.lower), width: `calc(${x(r.upper)} - ${x(r.lower)})` }}
                    />
                    <div className="ci__point" style={{ left: x(r.rating) }} />
                  </div>
                </td>
                <td className="num right">{r.battles}</td>
                <td className="num right">
                  {r.wins} / {r.losses} / {r.ties}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Settings({ dataset }: { dataset: Detail["dataset"] }) {
  const t = useTranslations("DatasetDetail");
  const trpc = useTRPC();
  const serverMessage = useServerMessage();
  const queryClient = useQueryClient();
  const update = useMutation(
    trpc.admin.updateDataset.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.admin.dataset.queryKey() }),
    }),
  );
  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    update.mutate({
      datasetId: dataset.id,
      requiredRankings: Number(form.get("requiredRankings")),
      goldFraction: Number(form.get("goldFraction")) / 100,
    });
  }
  return (
    <section className="card" aria-labelledby="settings-heading">
      <div className="card__head">
        <h2 id="settings-heading">{t("distribution")}</h2>
      </div>
      <form className="form" onSubmit={onSubmit}>
        <label>
          {t("rankingsPerTask")}
          <input
            name="requiredRankings"
            type="number"
            min={1}
            max={100}
            defaultValue={dataset.requiredRankings}
          />
        </label>
        <label>
          {t("goldServed")} <span className="muted">{t("goldHint")}</span>
          <input
            name="goldFraction"
            type="number"
            min={0}
            max={100}
            defaultValue={Math.round((dataset.goldFraction ?? 0.1) * 100)}
          />
        </label>
        {update.error && <p className="form-error">{serverMessage(update.error).text}</p>}
        {update.isSuccess && <p className="form-ok">{t("saved")}</p>}
        <button type="submit" className="button" disabled={update.isPending}>
          {t("save")}
        </button>
      </form>
    </section>
  );
}
