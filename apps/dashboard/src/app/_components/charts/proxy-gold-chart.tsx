"use client";

import { useFormat } from "@rlhf/ui/i18n/use-format";
import { useTranslations } from "next-intl";
import { useEffect, useMemo, useRef, useSyncExternalStore } from "react";
import uPlot from "uplot";
import type { LiveCharts } from "~/lib/live-charts";
import { RUN_COLORS, withAlpha } from "../colors";
import { alignLines, type ChartRun, runLine } from "./chart-data";
import { useWidth } from "./use-width";

/**
 * The reward a run optimised — the proxy: GRPO/RLOO's `reward` (TRL's: the weighted sum of its reward
 * functions), PPO's `objective/scores`.
 */
const PROXY_KEYS = ["reward", "objective/scores"];
/** The evaluation functions' score, logged but never optimised — the gold reward. */
export const GOLD_KEY = "objective/oracle_score";

const HEIGHT = 240;

/** The proxy key of a run whose metric keys hold both sides of the proxy-vs-gold view, else undefined. */
export function proxyKeyOf(keys: string[]): string | undefined {
  return keys.includes(GOLD_KEY) ? PROXY_KEYS.find((k) => keys.includes(k)) : undefined;
}

/**
 * Proxy against gold on one chart: the reward the run optimised and the oracle evaluation function's score,
 * each on its own y axis (their scales differ), smoothed as the other charts. When the proxy keeps rising
 * while the gold flattens or falls, the policy is over-optimising the reward model.
 */
export function ProxyGoldChart({
  store,
  run,
  proxyKey,
  smoothing,
}: {
  store: LiveCharts;
  run: ChartRun;
  proxyKey: string;
  smoothing: number;
}) {
  const t = useTranslations("ProxyGoldChart");
  const format = useFormat();
  const series = useMemo(
    () =>
      [
        { key: proxyKey, label: t("proxy", { key: proxyKey }), color: RUN_COLORS[0], scale: "proxy" },
        { key: GOLD_KEY, label: t("gold", { key: GOLD_KEY }), color: RUN_COLORS[1], scale: "gold" },
      ] as const,
    [proxyKey, t],
  );
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const width = useWidth(box);
  const proxy = useSyncExternalStore(
    (listener) => store.subscribe(proxyKey, listener),
    () => store.get(proxyKey),
    () => undefined,
  );
  const gold = useSyncExternalStore(
    (listener) => store.subscribe(GOLD_KEY, listener),
    () => store.get(GOLD_KEY),
    () => undefined,
  );

  useEffect(() => {
    if (width <= 0) return;
    const buckets = Math.max(50, Math.min(2000, width));
    for (const key of [proxyKey, GOLD_KEY]) if (!store.get(key)) void store.load(key, buckets);
  }, [store, width, proxyKey]);

  const lines = useMemo(
    () => [proxy, gold].map((state) => runLine(run, state?.runs.get(run.id) ?? [], "step", smoothing, false)),
    [proxy, gold, run, smoothing],
  );
  const ready = lines.every((l) => l.points.length > 0);
  const data = useMemo(() => {
    // alignLines gives [x, raw, smoothed] per line; keep the smoothed line of each.
    const columns = alignLines(lines);
    return [columns[0]!, columns[2]!, columns[4]!] as uPlot.AlignedData;
  }, [lines]);

  useEffect(() => {
    const element = box.current;
    if (!element || !ready || width <= 0) return;
    const axis = (scale: string, side: number, color: string) => ({
      scale,
      side,
      size: 56,
      font: "11px system-ui",
      stroke: color,
      grid: { show: side === 3, stroke: "#eef0f3" },
      ticks: { stroke: "#eef0f3" },
      values: (_u: uPlot, splits: number[]) => splits.map(format.axisValue),
    });
    const instance = new uPlot(
      {
        width,
        height: HEIGHT,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: false }, proxy: {}, gold: {} },
        axes: [
          { size: 28, font: "11px system-ui", stroke: "#667085", grid: { stroke: "#eef0f3" } },
          axis("proxy", 3, series[0].color),
          axis("gold", 1, series[1].color),
        ],
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            scale: s.scale,
            stroke: s.color,
            fill: withAlpha(s.color, 0.06),
            width: 2,
            spanGaps: true,
            points: { show: false },
          })),
        ],
      },
      data,
      element,
    );
    plot.current = instance;
    return () => {
      instance.destroy();
      plot.current = null;
    };
  }, [ready, width > 0, series]);
  useEffect(() => {
    plot.current?.setData(data, true);
  }, [data]);
  useEffect(() => {
    if (width > 0) plot.current?.setSize({ width, height: HEIGHT });
  }, [width]);

  const last = lines.map((l) => l.points.at(-1));
  return (
    <section className="chart-card proxy-gold" data-testid="proxy-gold-chart">
      <div className="chart-card__head">
        <span className="chart-card__title">{t("title")}</span>
        <span className="chart-card__meta">
          {series.map((s, i) => (
            <span key={s.key} data-testid={`proxy-gold-${s.scale}`} data-points={lines[i]!.points.length}>
              <span className="swatch" style={{ background: s.color, display: "inline-block" }} /> {s.label}
              {last[i] && ` ${format.metricValue(last[i]!.value)}`}
              {i === 0 ? " · " : ""}
            </span>
          ))}
        </span>
      </div>
      <div className="chart-box" ref={box} style={{ height: HEIGHT }}>
        {!ready && <div className="chart-box__empty">{t("loading")}</div>}
      </div>
      <p className="field__doc">{t("doc")}</p>
    </section>
  );
}
