"use client";

import { RUN_KINDS, RUN_STATUSES, type RunKind, type RunStatus } from "@rlhf/core/schema";
import { LIVE_REFETCH_MS } from "@rlhf/ui/query-client";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { type ReactNode, useDeferredValue, useMemo, useState } from "react";
import type { RouterOutputs } from "~/server/api/root";
import { useTRPC } from "~/trpc/react";
import { dateTime, duration, metricValue, timeAgo } from "./format";
import { PipelineChain } from "./pipeline-chain";
import { QueryError } from "./query-error";
import { StatusBadge } from "./status";

type Run = RouterOutputs["runs"]["list"]["runs"][number];
type SortKey = "name" | "kind" | "status" | "created" | "duration" | "loss" | "reward" | "kl" | "accuracy";

const METRIC_COLUMNS = [
  { key: "loss", label: "Loss" },
  { key: "reward", label: "Reward" },
  { key: "kl", label: "KL" },
  { key: "accuracy", label: "Accuracy" },
] as const;

/** The runs as a list for the caller's filters, with a chain view of their pipelines. */
export function RunsView({ aside }: { aside?: ReactNode }) {
  const trpc = useTRPC();
  const router = useRouter();
  const [search, setSearch] = useState("");
  const [kinds, setKinds] = useState<RunKind[]>([]);
  const [statuses, setStatuses] = useState<RunStatus[]>([]);
  const [sort, setSort] = useState<{ key: SortKey; dir: 1 | -1 }>({ key: "created", dir: -1 });
  const [selected, setSelected] = useState<string[]>([]);
  const deferredSearch = useDeferredValue(search);
  const input = { search: deferredSearch || undefined, kinds, statuses, limit: 200 };
  const list = useQuery(
    trpc.runs.list.queryOptions(input, {
      refetchInterval: LIVE_REFETCH_MS,
      placeholderData: keepPreviousData,
    }),
  );
  const now = list.dataUpdatedAt || Date.now();

  const sorted = useMemo(() => {
    const rows = [...(list.data?.runs ?? [])];
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
    return rows.sort((a, b) => {
      const [x, y] = [value(a), value(b)];
      return (x < y ? -1 : x > y ? 1 : 0) * sort.dir;
    });
  }, [list.data, sort, now]);

  const toggle = <T,>(list: T[], item: T) =>
    list.includes(item) ? list.filter((x) => x !== item) : [...list, item];
  const header = (key: SortKey, label: string, className = "") => (
    <th
      className={`sortable ${className}`}
      aria-sort={sort.key === key ? (sort.dir === 1 ? "ascending" : "descending") : undefined}
      onClick={() =>
        setSort((s) => ({ key, dir: s.key === key ? (-s.dir as 1 | -1) : key === "created" ? -1 : 1 }))
      }
    >
      {label}
    </th>
  );

  return (
    <div className="stack">
      <div className="layout">
        {list.data && list.data.pipelines.length > 0 ? (
          <section className="card card--flush" aria-labelledby="pipelines-heading">
            <div className="toolbar">
              <h2 id="pipelines-heading">Pipelines</h2>
              <span className="muted">each stage starts when the runs it consumes have succeeded</span>
            </div>
            {list.data.pipelines.slice(0, 4).map((pipeline) => (
              <div className="pipeline" key={pipeline.pipelineId}>
                <div className="pipeline__head">
                  <span className="mono">pipeline {pipeline.pipelineId.slice(0, 8)}</span>
                  <span>{pipeline.runs[0] && timeAgo(pipeline.runs[0].createdAt, now)}</span>
                </div>
                <PipelineChain runs={pipeline.runs} depth={pipeline.depth} />
              </div>
            ))}
          </section>
        ) : (
          <div />
        )}
        <aside>{aside}</aside>
      </div>

      <section className="card card--flush" aria-labelledby="runs-heading">
        <div className="toolbar">
          <h2 id="runs-heading">Runs</h2>
          <input
            className="input"
            type="search"
            placeholder="Search by name or id"
            aria-label="Search runs"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
          <fieldset className="chips plain" aria-label="Kind">
            {RUN_KINDS.map((kind) => (
              <button
                key={kind}
                type="button"
                className="chip"
                aria-pressed={kinds.includes(kind)}
                onClick={() => setKinds((k) => toggle(k, kind))}
              >
                {kind}
              </button>
            ))}
          </fieldset>
          <fieldset className="chips plain" aria-label="Status">
            {RUN_STATUSES.map((status) => (
              <button
                key={status}
                type="button"
                className="chip"
                aria-pressed={statuses.includes(status)}
                onClick={() => setStatuses((s) => toggle(s, status))}
              >
                {status}
              </button>
            ))}
          </fieldset>
        </div>
        {list.isError && <QueryError error={list.error} what="runs" />}
        {list.isPending && <p className="empty">Loading runs…</p>}
        {list.data && list.data.runs.length === 0 && (
          <EmptyState filtered={Boolean(deferredSearch || kinds.length || statuses.length)} />
        )}
        {sorted.length > 0 && (
          <div className="table-scroll">
            <table className="table" data-testid="runs-table">
              <thead>
                <tr>
                  <th>
                    <span className="visually-hidden">Select</span>
                  </th>
                  {header("name", "Run")}
                  {header("kind", "Kind")}
                  {header("status", "Status")}
                  <th>Progress</th>
                  <th>Backend</th>
                  {header("created", "Started")}
                  {header("duration", "Duration")}
                  {METRIC_COLUMNS.map((c) => header(c.key, c.label, "metric-cell"))}
                  <th>Parents</th>
                </tr>
              </thead>
              <tbody>
                {sorted.map((run) => (
                  <RunRow
                    key={run.id}
                    run={run}
                    now={now}
                    selected={selected.includes(run.id)}
                    onSelect={() => setSelected((s) => toggle(s, run.id))}
                  />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      {selected.length > 0 && (
        <section className="compare-bar" aria-label="Selection">
          <span>
            {selected.length} run{selected.length === 1 ? "" : "s"} selected
          </span>
          <div className="row">
            <button type="button" className="btn btn--small" onClick={() => setSelected([])}>
              Clear
            </button>
            <button
              type="button"
              className="btn btn--small btn--primary"
              disabled={selected.length < 2}
              title={selected.length < 2 ? "Select at least two runs" : undefined}
              onClick={() => router.push(`/compare?runs=${selected.join(",")}`)}
            >
              Compare {selected.length >= 2 ? selected.length : ""} runs
            </button>
          </div>
        </section>
      )}
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
  const fraction = run.totalSteps ? Math.min(1, run.step / run.totalSteps) : undefined;
  const end = run.finishedAt?.getTime() ?? (run.status === "running" ? now : undefined);
  const started = run.startedAt ?? run.createdAt;
  return (
    <tr data-selected={selected}>
      <td>
        <input type="checkbox" checked={selected} onChange={onSelect} aria-label={`Select ${run.name}`} />
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
        <time dateTime={started.toISOString()} title={dateTime(started)} suppressHydrationWarning>
          {timeAgo(started, now)}
        </time>
      </td>
      <td className="num">
        {run.startedAt && end !== undefined ? (
          duration(end - run.startedAt.getTime())
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      {METRIC_COLUMNS.map(({ key }) => {
        const point = run.keyMetrics[key];
        return (
          <td
            key={key}
            className="metric-cell"
            title={point ? `${point.key} at step ${point.step}` : undefined}
          >
            {point ? metricValue(point.value) : <span className="muted">—</span>}
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
              title={`${p.role}: ${p.name} (${p.status})`}
            >
              {p.name}
            </Link>
          ))}
        </div>
      </td>
    </tr>
  );
}

function EmptyState({ filtered }: { filtered: boolean }) {
  if (filtered) return <p className="empty muted">No run matches these filters.</p>;
  return (
    <div className="empty">
      <p>
        <strong>No runs yet.</strong>
      </p>
      <p>
        <Link className="link" href="/launch">
          Launch a run
        </Link>{" "}
        (or the demo pipeline: pretraining → SFT → reward model → PPO on a tiny model), or from the repository
        root:
      </p>
      <pre className="command">pnpm rlhf pipeline --demo</pre>
      <p className="muted">A worker (`pnpm rlhf worker`, or `pnpm start`) picks up queued runs.</p>
    </div>
  );
}
