"use client";

import { LIVE_REFETCH_MS } from "@rlhf/ui/query-client";
import { useQuery } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { useEffect, useMemo, useRef, useState } from "react";
import { LiveCharts } from "~/lib/live-charts";
import { useTRPC, useTRPCClient } from "~/trpc/react";
import { QueryError } from "../query-error";
import { type ChartRun, groupByNamespace, type XAxis } from "./chart-data";
// uPlot is safe to import on the server (it touches the DOM only when a chart is created, in an effect):
// imported statically, the charts ask for their data as soon as the page hydrates.
import MetricChart, { type ChartControls, type ReferenceLine } from "./metric-chart";
import { ProxyGoldChart, proxyKeyOf } from "./proxy-gold-chart";

/** How often a live page reads new points: with the workers' 1 s flush, a chart is ≤ 2 s behind. */
const LIVE_POLL_MS = 1_000;

/** The runs' metric keys and the store their charts read, polled while the runs are live. */
function useChartStore(runs: ChartRun[], live: boolean, attempt: string) {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const runIds = runs.map((r) => r.id);
  const idsKey = runIds.join(",");
  const keys = useQuery(
    trpc.metrics.keys.queryOptions({ runIds }, { refetchInterval: live ? LIVE_REFETCH_MS : false }),
  );
  const store = useMemo(
    () =>
      new LiveCharts(
        {
          series: (input) => client.metrics.series.query(input),
          since: (input) => client.metrics.since.query(input),
        },
        runIds,
      ),
    [client, idsKey],
  );
  useEffect(() => {
    if (!live) {
      // One last read: the points written between the last poll and the run's end.
      void store.poll().catch(() => {});
      return;
    }
    store.start(LIVE_POLL_MS);
    return () => store.stop();
  }, [store, live]);

  const firstAttempt = useRef(attempt);
  useEffect(() => {
    if (attempt === firstAttempt.current) return;
    firstAttempt.current = attempt;
    void store.reloadAll();
  }, [store, attempt]);
  return { keys, store };
}

/** What every chart of the panel shares: smoothing, x axis, y scale, runs hidden, and the keys' filter. */
function useControls() {
  const [smoothing, setSmoothing] = useState(0.6);
  const [xAxis, setXAxis] = useState<XAxis>("step");
  const [logY, setLogY] = useState(false);
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const [filter, setFilter] = useState("");
  const controls: ChartControls = useMemo(
    () => ({ smoothing, xAxis, logY, hidden }),
    [smoothing, xAxis, logY, hidden],
  );
  const matcher = useMemo(() => {
    try {
      return new RegExp(filter, "i");
    } catch {
      return null;
    }
  }, [filter]);
  const toggleRun = (id: string) =>
    setHidden((h) => {
      const next = new Set(h);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  return { controls, setSmoothing, setXAxis, setLogY, toggleRun, filter, setFilter, matcher };
}

/**
 * Every metric of one or more runs: one chart per key, grouped by namespace, sharing smoothing, x-axis, y
 * scale and the runs' legend. Live while any of the runs is queued or running.
 */
export function ChartsPanel({
  runs,
  live,
  attempt = "",
  references = {},
}: {
  runs: ChartRun[];
  live: boolean;
  /** Horizontal lines by metric key (the run page's n-gram baseline on `eval/bits_per_byte`). */
  references?: Record<string, ReferenceLine[]>;
  /** Changes when a run starts a new attempt: resumed from a checkpoint, it rewrites steps a cursor cannot see. */
  attempt?: string;
}) {
  const t = useTranslations("ChartsPanel");
  const { keys, store } = useChartStore(runs, live, attempt);
  const ui = useControls();
  const { controls, matcher } = ui;
  const groups = useMemo(
    () => groupByNamespace((keys.data ?? []).map((k) => k.key).filter((k) => !matcher || matcher.test(k))),
    [keys.data, matcher],
  );

  // The reward optimised beside the oracle, when the run logs both (GRPO/RLOO/PPO with evaluation functions).
  const proxyKey = useMemo(() => proxyKeyOf((keys.data ?? []).map((k) => k.key)), [keys.data]);

  return (
    <div data-testid="charts">
      <ChartToolbar ui={ui} runs={runs} live={live} />
      {keys.isError && <QueryError error={keys.error} what={t("what")} />}
      {keys.isPending && <p className="muted">{t("loading")}</p>}
      {keys.data && keys.data.length === 0 && (
        <p className="empty muted">{live ? t("noneYet") : t("none")}</p>
      )}
      {runs.length === 1 && proxyKey && (
        <ProxyGoldChart store={store} run={runs[0]!} proxyKey={proxyKey} smoothing={controls.smoothing} />
      )}
      {groups.map((group) => (
        <details key={group.namespace} className="chart-group" open>
          <summary>
            {group.namespace}
            <span className="muted">{group.keys.length}</span>
          </summary>
          <div className="chart-grid">
            {group.keys.map((key) => (
              <MetricChart
                key={key}
                store={store}
                metricKey={key}
                runs={runs}
                controls={controls}
                references={references[key]}
              />
            ))}
          </div>
        </details>
      ))}
    </div>
  );
}

function ChartToolbar({
  ui,
  runs,
  live,
}: {
  ui: ReturnType<typeof useControls>;
  runs: ChartRun[];
  live: boolean;
}) {
  const t = useTranslations("ChartsPanel");
  const { controls, matcher } = ui;
  return (
    <div className="chart-controls">
      <label className="label">
        {t("smoothing")}
        <input
          type="range"
          min={0}
          max={0.99}
          step={0.01}
          value={controls.smoothing}
          onChange={(e) => ui.setSmoothing(Number(e.target.value))}
          aria-label={t("smoothing")}
        />
        <span className="num mono">{controls.smoothing.toFixed(2)}</span>
      </label>
      <fieldset className="segmented plain" aria-label={t("xAxis")}>
        {(["step", "relative", "wall"] as const).map((value) => (
          <button
            key={value}
            type="button"
            aria-pressed={controls.xAxis === value}
            onClick={() => ui.setXAxis(value)}
          >
            {t(`axes.${value}`)}
          </button>
        ))}
      </fieldset>
      <label className="label">
        <input type="checkbox" checked={controls.logY} onChange={(e) => ui.setLogY(e.target.checked)} />{" "}
        {t("logY")}
      </label>
      <input
        className={`input ${matcher ? "" : "input--invalid"}`}
        type="search"
        placeholder={t("filterPlaceholder")}
        aria-label={t("filter")}
        value={ui.filter}
        onChange={(e) => ui.setFilter(e.target.value)}
      />
      {runs.length > 1 && (
        <fieldset className="legend plain" aria-label={t("runs")}>
          {runs.map((run) => (
            <button
              key={run.id}
              type="button"
              className="legend__item"
              aria-pressed={!controls.hidden.has(run.id)}
              onClick={() => ui.toggleRun(run.id)}
            >
              <span className="swatch" style={{ background: run.color }} />
              {run.name}
            </button>
          ))}
        </fieldset>
      )}
      {live && <span className="dot dot--ok">{t("live")}</span>}
    </div>
  );
}
