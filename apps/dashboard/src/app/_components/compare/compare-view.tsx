"use client";

import { LIVE_REFETCH_MS } from "@rlhf/ui/query-client";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useTranslations } from "next-intl";
import { useMemo, useState } from "react";
import { configTable } from "~/lib/config-diff";
import { useTRPC } from "~/trpc/react";
import { ChartsPanel } from "../charts/charts-panel";
import { runColor } from "../colors";
import { QueryError } from "../query-error";
import { SideBySide } from "../samples/side-by-side";
import { isActive, StatusBadge } from "../status";

const TABS = ["charts", "config", "samples"] as const;
type Tab = (typeof TABS)[number];

/** Several runs on the same charts (a colour each, legend toggles), their configs and their samples. */
export function CompareView({ ids, tab }: { ids: string[]; tab: Tab }) {
  const t = useTranslations("CompareView");
  const tStatus = useTranslations("Status");
  const trpc = useTRPC();
  const router = useRouter();
  const list = useQuery(
    trpc.runs.list.queryOptions(
      { kinds: [], statuses: [], limit: 200 },
      { refetchInterval: LIVE_REFETCH_MS },
    ),
  );
  const all = list.data?.runs ?? [];
  const chosen = ids.map((id) => all.find((r) => r.id === id)).filter((r) => r !== undefined);
  const chartRuns = useMemo(
    () => chosen.map((r, i) => ({ id: r.id, name: r.name, color: runColor(i), startedAt: r.startedAt })),
    [chosen.map((r) => `${r.id}:${r.name}`).join(",")],
  );
  const live = chosen.some((r) => isActive(r.status));
  const go = (next: string[], nextTab: Tab = tab) =>
    router.replace(`/compare?runs=${next.join(",")}${nextTab !== "charts" ? `&tab=${nextTab}` : ""}`, {
      scroll: false,
    });

  if (list.isError) return <QueryError error={list.error} what={t("runs")} />;
  if (list.isPending) return <p className="muted">{t("loadingRuns")}</p>;

  return (
    <div className="stack">
      <div className="card">
        <div className="row">
          {chosen.map((run, i) => (
            <span key={run.id} className="legend__item" style={{ cursor: "default" }}>
              <span className="swatch" style={{ background: runColor(i) }} />
              <Link className="link" href={`/runs/${run.id}`}>
                {run.name}
              </Link>
              <StatusBadge status={run.status} />
              <button
                type="button"
                className="btn btn--small"
                aria-label={t("remove", { name: run.name })}
                onClick={() => go(ids.filter((id) => id !== run.id))}
              >
                ×
              </button>
            </span>
          ))}
          <select
            className="select"
            aria-label={t("add")}
            value=""
            onChange={(e) => e.target.value && go([...ids, e.target.value])}
          >
            <option value="">{t("addOption")}</option>
            {all
              .filter((r) => !ids.includes(r.id))
              .map((r) => (
                <option key={r.id} value={r.id}>
                  {r.name} ({r.kind}, {tStatus(r.status)})
                </option>
              ))}
          </select>
        </div>
      </div>

      {chosen.length === 0 ? (
        <p className="empty muted">{t("pick")}</p>
      ) : (
        <>
          <nav className="tabs" aria-label={t("tabsLabel")}>
            {TABS.map((name) => (
              <a
                key={name}
                href={`?runs=${ids.join(",")}&tab=${name}`}
                aria-current={name === tab ? "page" : undefined}
                onClick={(e) => {
                  e.preventDefault();
                  go(ids, name);
                }}
              >
                {t(`tabs.${name}`)}
              </a>
            ))}
          </nav>
          {tab === "charts" && <ChartsPanel runs={chartRuns} live={live} />}
          {tab === "config" && <ConfigComparison ids={chosen.map((r) => r.id)} />}
          {tab === "samples" && <SamplesComparison runs={chosen} />}
        </>
      )}
    </div>
  );
}

function ConfigComparison({ ids }: { ids: string[] }) {
  const t = useTranslations("CompareView");
  const trpc = useTRPC();
  const [diffOnly, setDiffOnly] = useState(true);
  const configs = useQuery(trpc.runs.configs.queryOptions({ ids }));
  if (configs.isError) return <QueryError error={configs.error} what={t("configs")} />;
  if (!configs.data) return <p className="muted">{t("loadingConfigs")}</p>;
  const rows = configTable(configs.data.map((c) => c.config));
  const shown = diffOnly ? rows.filter((r) => !r.same) : rows;
  return (
    <div className="stack">
      <label className="label">
        <input type="checkbox" checked={diffOnly} onChange={(e) => setDiffOnly(e.target.checked)} />{" "}
        {t("differencesOnly", { differ: rows.filter((r) => !r.same).length, total: rows.length })}
      </label>
      <div className="card card--flush table-scroll">
        <table className="table" data-testid="config-comparison">
          <thead>
            <tr>
              <th>{t("field")}</th>
              {configs.data.map((c, i) => (
                <th key={c.id}>
                  <span
                    className="swatch"
                    style={{ background: runColor(i), display: "inline-block", marginRight: 6 }}
                  />
                  {c.name}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map((row) => (
              <tr key={row.path} className={row.same ? "" : "diff-row--changed"}>
                <td className="mono">{row.path}</td>
                {row.values.map((v, i) => (
                  <td key={configs.data[i]!.id} className="mono wrap">
                    {v === undefined ? "—" : JSON.stringify(v)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function SamplesComparison({ runs }: { runs: { id: string; name: string }[] }) {
  const t = useTranslations("CompareView");
  const trpc = useTRPC();
  const [aId, setAId] = useState(runs[0]!.id);
  const [bId, setBId] = useState((runs[1] ?? runs[0])!.id);
  const [aStep, setAStep] = useState<number | null>(null);
  const [bStep, setBStep] = useState<number | null>(null);
  const [search, setSearch] = useState("");
  const aSteps = useQuery(trpc.samples.steps.queryOptions({ runId: aId }));
  const bSteps = useQuery(trpc.samples.steps.queryOptions({ runId: bId }));
  const a = aStep ?? aSteps.data?.at(-1)?.step;
  const b = bStep ?? bSteps.data?.at(-1)?.step;
  const rows = useQuery(
    trpc.samples.sideBySide.queryOptions(
      {
        a: { runId: aId, step: a ?? 0 },
        b: { runId: bId, step: b ?? 0 },
        search: search.trim() || undefined,
      },
      { enabled: a !== undefined && b !== undefined, placeholderData: keepPreviousData },
    ),
  );
  const name = (id: string) => runs.find((r) => r.id === id)?.name ?? id;
  const side = (
    label: string,
    runId: string,
    setRun: (id: string) => void,
    step: number | undefined,
    setStep: (s: number) => void,
    steps: { step: number }[] | undefined,
  ) => (
    <label className="label">
      {label}
      <select className="select" value={runId} onChange={(e) => setRun(e.target.value)}>
        {runs.map((r) => (
          <option key={r.id} value={r.id}>
            {r.name}
          </option>
        ))}
      </select>
      {t("atStep")}
      <select className="select" value={step ?? ""} onChange={(e) => setStep(Number(e.target.value))}>
        {(steps ?? []).map((s) => (
          <option key={s.step} value={s.step}>
            {s.step}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <div className="stack">
      <div className="card row">
        {side(
          "A",
          aId,
          (id) => {
            setAId(id);
            setAStep(null);
          },
          a,
          setAStep,
          aSteps.data,
        )}
        {side(
          "B",
          bId,
          (id) => {
            setBId(id);
            setBStep(null);
          },
          b,
          setBStep,
          bSteps.data,
        )}
        <input
          className="input"
          type="search"
          placeholder={t("search")}
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
      </div>
      {aSteps.data?.length === 0 && bSteps.data?.length === 0 ? (
        <p className="empty muted">{t("noSamples")}</p>
      ) : (
        rows.data && (
          <SideBySide rows={rows.data} left={`${name(aId)} @ ${a}`} right={`${name(bId)} @ ${b}`} />
        )
      )}
    </div>
  );
}
