"use client";

import { useFormat } from "@rlhf/ui/i18n/use-format";
import Link from "next/link";
import { useTranslations } from "next-intl";
import { useMemo, useState } from "react";
import type { RouterOutputs } from "~/server/api/root";
import { StatusBadge } from "./status";

type Run = RouterOutputs["runs"]["list"]["runs"][number];
type SortKey = "name" | "kind" | "status" | "created" | "duration" | "loss" | "reward" | "kl" | "accuracy";

const METRIC_COLUMNS = ["loss", "reward", "kl", "accuracy"] as const;

/** The runs as a table sorted by the column clicked (newest first until then), each with a tick box. */
export function RunsTable({
  runs,
  now,
  selected,
  onSelect,
}: {
  runs: Run[];
  now: number;
  selected: string[];
  onSelect: (id: string) => void;
}) {
  const t = useTranslations("RunsTable");
  const [sort, setSort] = useState<{ key: SortKey; dir: 1 | -1 }>({ key: "created", dir: -1 });
  const sorted = useMemo(() => {
    const value = (run: Run): number | string => {
      switch (sort.key) {
        case "name":
        case "kind":
        case "status":
          return run[sort.key];
        case "created":
          return (run.startedAt ?? run.createdAt).getTime();
        case "duration":
          return run.startedAt ? (run.finishedAt?.getTime() ?? now) - run.startedAt.getTime() : -1;
        default:
          return run.keyMetrics[sort.key]?.value ?? Number.NEGATIVE_INFINITY;
      }
    };
    return [...runs].sort((a, b) => {
      const [x, y] = [value(a), value(b)];
      return (x < y ? -1 : x > y ? 1 : 0) * sort.dir;
    });
  }, [runs, sort, now]);

  const header = (key: SortKey, className = "") => (
    <th
      key={key}
      className={`sortable ${className}`}
      aria-sort={sort.key === key ? (sort.dir === 1 ? "ascending" : "descending") : undefined}
      onClick={() =>
        setSort((s) => ({ key, dir: s.key === key ? (-s.dir as 1 | -1) : key === "created" ? -1 : 1 }))
      }
    >
      {t(`columns.${key}`)}
    </th>
  );

  return (
    <div className="table-scroll">
      <table className="table" data-testid="runs-table">
        <thead>
          <tr>
            <th>
              <span className="visually-hidden">{t("select")}</span>
            </th>
            {header("name")}
            {header("kind")}
            {header("status")}
            <th>{t("columns.progress")}</th>
            <th>{t("columns.backend")}</th>
            {header("created")}
            {header("duration")}
            {METRIC_COLUMNS.map((key) => header(key, "metric-cell"))}
            <th>{t("columns.parents")}</th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((run) => (
            <RunRow
              key={run.id}
              run={run}
              now={now}
              selected={selected.includes(run.id)}
              onSelect={() => onSelect(run.id)}
            />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function RunRow({
  run,
  now,
  selected,
  onSelect,
}: {
  run: Run;
  now: number;
  selected: boolean;
  onSelect: () => void;
}) {
  const t = useTranslations("RunsTable");
  const tStatus = useTranslations("Status");
  const format = useFormat();
  const fraction = run.totalSteps ? Math.min(1, run.step / run.totalSteps) : undefined;
  const end = run.finishedAt?.getTime() ?? (run.status === "running" ? now : undefined);
  const started = run.startedAt ?? run.createdAt;
  return (
    <tr data-selected={selected}>
      <td>
        <input
          type="checkbox"
          checked={selected}
          onChange={onSelect}
          aria-label={t("selectRun", { name: run.name })}
        />
      </td>
      <td>
        <Link href={`/runs/${run.id}`} className="cell-title link">
          {run.name}
        </Link>
        <div className="mono muted" title={run.id}>
          {run.id.slice(0, 8)}
        </div>
      </td>
      <td>
        <span className="tag">{run.kind}</span>
      </td>
      <td>
        <StatusBadge status={run.status} />
      </td>
      <td className="progress-cell">
        {fraction === undefined ? (
          <span className="muted">{t("step", { step: format.integer(run.step) })}</span>
        ) : (
          <>
            <div className="progress" role="progressbar" aria-valuenow={Math.round(fraction * 100)}>
              <div className="progress__bar" style={{ width: `${fraction * 100}%` }} />
            </div>
            <span className="muted num">
              {format.integer(run.step)} / {format.integer(run.totalSteps!)}
            </span>
          </>
        )}
      </td>
      <td>{run.backend ?? <span className="muted">—</span>}</td>
      <td>
        <time dateTime={started.toISOString()} title={format.dateTime(started)} suppressHydrationWarning>
          {format.timeAgo(started, now)}
        </time>
      </td>
      <td className="num">
        {run.startedAt && end !== undefined ? (
          format.duration(end - run.startedAt.getTime())
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      {METRIC_COLUMNS.map((key) => {
        const point = run.keyMetrics[key];
        return (
          <td
            key={key}
            className="metric-cell"
            title={point ? t("metricAt", { key: point.key, step: point.step }) : undefined}
          >
            {point ? format.metricValue(point.value) : <span className="muted">—</span>}
          </td>
        );
      })}
      <td>
        <div className="parents">
          {run.parents.length === 0 && <span className="muted">—</span>}
          {run.parents.map((p) => (
            <Link
              key={`${p.id}-${p.role}`}
              href={`/runs/${p.id}`}
              className="tag"
              title={`${p.role}: ${p.name} (${tStatus(p.status)})`}
            >
              {p.name}
            </Link>
          ))}
        </div>
      </td>
    </tr>
  );
}
