"use client";

import { useFormat } from "@rlhf/ui/i18n/use-format";
import { useTranslations } from "next-intl";
import { useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import uPlot from "uplot";
import type { LiveCharts } from "~/lib/live-charts";
import { withAlpha } from "../colors";
import { alignLines, type ChartRun, nearestIndex, relativeTime, runLine, type XAxis } from "./chart-data";
import { useWidth } from "./use-width";

export interface ChartControls {
  smoothing: number;
  xAxis: XAxis;
  logY: boolean;
  hidden: Set<string>;
}

const HEIGHT = 210;

/** A horizontal line drawn across a chart at a fixed value, e.g. the n-gram baseline of bits per byte. */
export interface ReferenceLine {
  label: string;
  value: number;
}

/** What a chart writes outside React (axes, tooltip): numbers in the page's language and its words. */
export interface ChartText {
  format: ReturnType<typeof useFormat>;
  step: (step: string) => string;
  smoothed: (value: string) => string;
}

/** The chart's words and formats for the page's language. */
export function useChartText(): ChartText {
  const t = useTranslations("MetricChart");
  const format = useFormat();
  return useMemo(
    () => ({
      format,
      step: (step: string) => t("step", { step }),
      smoothed: (value: string) => t("smoothed", { value }),
    }),
    [t, format],
  );
}

/**
 * One metric key's chart: every run's series (raw, faint) with its smoothed line over it, drawn by uPlot
 * from at most ~3 points per pixel column. Drag across to zoom (the visible steps are fetched at full
 * detail); double-click or "reset" to zoom out. Hover shows each run's nearest point.
 */
export default function MetricChart({
  store,
  metricKey,
  runs,
  controls,
  references = [],
}: {
  store: LiveCharts;
  metricKey: string;
  runs: ChartRun[];
  controls: ChartControls;
  references?: ReferenceLine[];
}) {
  const box = useRef<HTMLDivElement>(null);
  const t = useTranslations("MetricChart");
  const text = useChartText();
  const tooltip = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  // Width in pixels → buckets; a chart resized by less than a quarter keeps its data.
  const width = useWidth(box);
  const state = useSyncExternalStore(
    (listener) => store.subscribe(metricKey, listener),
    () => store.get(metricKey),
    () => undefined,
  );

  // A chart loads when it comes near the viewport: the ones on screen first, the rest as the page scrolls.
  const [near, setNear] = useState(false);
  useEffect(() => {
    const element = box.current;
    if (!element || near) return;
    const observer = new IntersectionObserver(([entry]) => entry?.isIntersecting && setNear(true), {
      rootMargin: "300px",
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, [near]);
  useEffect(() => {
    if (width <= 0 || !near) return;
    const current = store.get(metricKey)?.buckets;
    if (current && Math.abs(current - width) / current < 0.25) return;
    void store.load(metricKey, Math.max(50, Math.min(2000, width)));
  }, [store, metricKey, width, near]);

  const visibleRuns = useMemo(() => runs.filter((r) => !controls.hidden.has(r.id)), [runs, controls.hidden]);
  const lines = useMemo(() => {
    const source = state?.zoom?.runs ?? state?.runs;
    if (!source) return [];
    return visibleRuns
      .map((run) => runLine(run, source.get(run.id) ?? [], controls.xAxis, controls.smoothing, controls.logY))
      .filter((line) => line.points.length > 0);
  }, [state, visibleRuns, controls.xAxis, controls.smoothing, controls.logY]);
  const linesRef = useRef(lines);
  linesRef.current = lines;

  // The plot is rebuilt when its series or scales change; data changes go through setData.
  const shape = `${lines.map((l) => l.run.id).join(",")}|${controls.xAxis}|${controls.logY}|${references.map((r) => r.value).join(",")}|${text.format.locale}`;
  useEffect(() => {
    const element = box.current;
    if (!element || lines.length === 0 || width <= 0) return;
    const opts = plotOptions({
      width,
      lines,
      xAxis: controls.xAxis,
      logY: controls.logY,
      references,
      text,
      onZoom: (from, to) => zoomTo(store, metricKey, linesRef.current, from, to),
      onCursor: (u) => showTooltip(u, tooltip.current, linesRef.current, controls.xAxis, text),
    });
    const instance = new uPlot(opts, alignLines(linesRef.current) as uPlot.AlignedData, element);
    plot.current = instance;
    return () => {
      instance.destroy();
      plot.current = null;
    };
  }, [shape, width > 0]);

  useEffect(() => {
    plot.current?.setData(alignLines(lines) as uPlot.AlignedData, true);
  }, [lines]);
  useEffect(() => {
    if (width > 0) plot.current?.setSize({ width, height: HEIGHT });
  }, [width]);

  const pointCount = lines.reduce((n, l) => n + l.points.length, 0);
  const last = lines.length === 1 ? lines[0]!.points.at(-1) : undefined;
  return (
    <div className="chart-card" data-testid={`chart-${metricKey}`} data-points={pointCount}>
      <ChartHead
        store={store}
        metricKey={metricKey}
        state={state}
        references={references}
        last={last}
        pointCount={pointCount}
      />
      {/* biome-ignore lint/a11y/noStaticElementInteractions: double-click is a shortcut; "reset zoom" is the button. */}
      <div
        className="chart-box"
        ref={box}
        onDoubleClick={() => store.resetZoom(metricKey)}
        onMouseLeave={() => {
          if (tooltip.current) tooltip.current.style.display = "none";
        }}
      >
        {(!state || state.status === "loading") && <div className="chart-box__empty">{t("loading")}</div>}
        {state?.status === "error" && (
          <div className="chart-box__empty">{t("error", { error: state.error ?? "" })}</div>
        )}
        {state?.status === "ready" && lines.length === 0 && (
          <div className="chart-box__empty">{t("empty")}</div>
        )}
        <div className="chart-tooltip" ref={tooltip} />
      </div>
    </div>
  );
}

/** The chart's name, its zoom, its reference lines, its last value and how many points it draws. */
function ChartHead({
  store,
  metricKey,
  state,
  references,
  last,
  pointCount,
}: {
  store: LiveCharts;
  metricKey: string;
  state: ReturnType<LiveCharts["get"]>;
  references: ReferenceLine[];
  last: { step: number; value: number } | undefined;
  pointCount: number;
}) {
  const t = useTranslations("MetricChart");
  const format = useFormat();
  const zoom = state?.zoom;
  return (
    <div className="chart-card__head">
      <span className="chart-card__title" title={metricKey}>
        {metricKey}
      </span>
      <span className="chart-card__meta">
        {zoom && (
          <button type="button" className="btn btn--small" onClick={() => store.resetZoom(metricKey)}>
            {zoom.loading ? t("zooming") : t("resetZoom")}
          </button>
        )}{" "}
        {references.map((r) => (
          <span key={r.label} className="chart-card__reference" data-testid="chart-reference">
            ╌ {r.label} ·{" "}
          </span>
        ))}
        {last && (
          <span title={t("step", { step: format.integer(last.step) })}>
            {format.metricValue(last.value)} ·{" "}
          </span>
        )}
        <span title={t("pointsTitle", { points: pointCount, bucket: (zoom ?? state)?.bucketWidth ?? 1 })}>
          {t("points", { points: format.integer(pointCount) })}
        </span>
      </span>
    </div>
  );
}

/** uPlot's options for a chart: axes in the x mode asked for, each run raw and smoothed, the references. */
function plotOptions({
  width,
  lines,
  xAxis,
  logY,
  references,
  text,
  onZoom,
  onCursor,
}: {
  width: number;
  lines: ReturnType<typeof runLine>[];
  xAxis: XAxis;
  logY: boolean;
  references: ReferenceLine[];
  text: ChartText;
  onZoom: (from: number, to: number) => void;
  onCursor: (u: uPlot) => void;
}): uPlot.Options {
  return {
    width,
    height: HEIGHT,
    legend: { show: false },
    cursor: { drag: { x: true, y: false, setScale: false }, points: { size: 6 } },
    scales: {
      x: { time: xAxis === "wall" },
      y: {
        distr: logY ? 3 : 1,
        ...(references.length > 0 ? { range: rangeWith(references, logY) } : {}),
      },
    },
    axes: [
      {
        size: 28,
        font: "11px system-ui",
        stroke: "#667085",
        grid: { stroke: "#eef0f3" },
        ticks: { stroke: "#eef0f3" },
        ...(xAxis === "step"
          ? {
              values: (_u: uPlot, splits: number[]) =>
                splits.map((s) => (s == null ? "" : compact(text.format.locale).format(s))),
            }
          : {}),
        ...(xAxis === "relative"
          ? {
              values: (_u: uPlot, splits: number[]) => splits.map((s) => (s == null ? "" : relativeTime(s))),
            }
          : {}),
      },
      {
        size: 56,
        font: "11px system-ui",
        stroke: "#667085",
        grid: { stroke: "#eef0f3" },
        ticks: { stroke: "#eef0f3" },
        values: (_u: uPlot, splits: number[]) => splits.map(text.format.axisValue),
      },
    ],
    series: [
      {},
      ...lines.flatMap((line) => [
        {
          label: `${line.run.name} raw`,
          stroke: withAlpha(line.run.color, 0.28),
          width: 1,
          spanGaps: true,
          points: { show: false },
        },
        {
          label: line.run.name,
          stroke: line.run.color,
          width: 1.75,
          spanGaps: true,
          points: { show: false },
        },
      ]),
    ],
    hooks: {
      setSelect: [
        (u) => {
          if (u.select.width < 4) return;
          const from = u.posToVal(u.select.left, "x");
          const to = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          onZoom(from, to);
        },
      ],
      setCursor: [onCursor],
      draw: [(u) => drawReferences(u, references)],
    },
  };
}

const compactFormats = new Map<string, Intl.NumberFormat>();
/** "12K", "1.5M" ("1.2万"): a step on the x axis. */
function compact(locale: string): Intl.NumberFormat {
  let format = compactFormats.get(locale);
  if (!format) {
    format = new Intl.NumberFormat(locale, { notation: "compact", maximumFractionDigits: 1 });
    compactFormats.set(locale, format);
  }
  return format;
}

/** The y range of the data widened to hold every reference line, padded as uPlot pads its own. */
function rangeWith(references: ReferenceLine[], logY: boolean): uPlot.Range.Function {
  return (_u, dataMin, dataMax) => {
    const values = references.map((r) => r.value);
    const lo = Math.min(dataMin ?? values[0]!, ...values);
    const hi = Math.max(dataMax ?? values[0]!, ...values);
    return logY ? uPlot.rangeLog(lo, hi, 10, true) : uPlot.rangeNum(lo, hi, 0.1, true);
  };
}

/** Dashed horizontal lines with their labels, over the plot area. */
function drawReferences(u: uPlot, references: ReferenceLine[]) {
  const { ctx, bbox } = u;
  ctx.save();
  ctx.strokeStyle = "#98a2b3";
  ctx.fillStyle = "#475467";
  ctx.lineWidth = devicePixelRatio;
  ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
  ctx.font = `${11 * devicePixelRatio}px system-ui`;
  for (const r of references) {
    const y = Math.round(u.valToPos(r.value, "y", true));
    if (y < bbox.top || y > bbox.top + bbox.height) continue;
    ctx.beginPath();
    ctx.moveTo(bbox.left, y);
    ctx.lineTo(bbox.left + bbox.width, y);
    ctx.stroke();
    ctx.fillText(r.label, bbox.left + 6 * devicePixelRatio, y - 4 * devicePixelRatio);
  }
  ctx.restore();
}

/** The steps under an x range (in any axis mode), zoomed to at full detail. */
function zoomTo(
  store: LiveCharts,
  key: string,
  lines: ReturnType<typeof runLine>[],
  from: number,
  to: number,
) {
  const steps = lines.flatMap((line) =>
    line.points.filter((_, i) => line.xs[i]! >= from && line.xs[i]! <= to).map((p) => p.step),
  );
  if (steps.length === 0) return;
  void store.zoom(key, Math.min(...steps), Math.max(...steps));
}

function showTooltip(
  u: uPlot,
  element: HTMLDivElement | null,
  lines: ReturnType<typeof runLine>[],
  axis: XAxis,
  text: ChartText,
) {
  if (!element) return;
  const { format } = text;
  const left = u.cursor.left ?? -1;
  if (left < 0 || lines.length === 0) {
    element.style.display = "none";
    return;
  }
  const x = u.posToVal(left, "x");
  const rows = lines
    .map((line) => {
      const i = nearestIndex(line.xs, x);
      return i < 0 ? null : { line, point: line.points[i]!, smoothed: line.smoothed[i] };
    })
    .filter((r) => r !== null);
  element.replaceChildren();
  const head = document.createElement("div");
  head.className = "chart-tooltip__row";
  head.textContent =
    axis === "step"
      ? text.step(format.integer(Math.round(x)))
      : axis === "wall"
        ? new Date(x * 1000).toLocaleString(format.locale)
        : relativeTime(x);
  element.append(head);
  for (const { line, point, smoothed } of rows) {
    const row = document.createElement("div");
    row.className = "chart-tooltip__row";
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = line.run.color;
    const name = document.createElement("span");
    name.textContent = `${line.run.name} @${format.integer(point.step)}`;
    const value = document.createElement("span");
    value.textContent = `${format.metricValue(point.value)}${smoothed != null ? ` ${text.smoothed(format.metricValue(smoothed))}` : ""}`;
    row.append(swatch, name, value);
    element.append(row);
  }
  element.style.display = "block";
  const boxWidth = u.over.clientWidth;
  const plotLeft = u.over.offsetLeft;
  const tipWidth = element.offsetWidth;
  element.style.left = `${Math.min(plotLeft + left + 12, plotLeft + boxWidth - tipWidth)}px`;
  element.style.top = `${(u.cursor.top ?? 0) + 12}px`;
}
