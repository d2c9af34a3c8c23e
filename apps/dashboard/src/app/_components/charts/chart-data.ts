/** From bucketed series to what uPlot draws: x per axis mode, raw and smoothed y per run, joined on x. */
import type { Point } from "~/lib/buckets";
import { debiasedEma } from "~/lib/smoothing";

export type XAxis = "step" | "relative" | "wall";

export interface ChartRun {
  id: string;
  name: string;
  color: string;
  /** When the run started (relative time counts from it); null: from its first point. */
  startedAt: Date | null;
}

export interface RunLine {
  run: ChartRun;
  points: Point[];
  xs: number[];
  raw: (number | null)[];
  smoothed: (number | null)[];
}

/** x of a point: its step, seconds since the run started, or wall time in seconds (uPlot's time unit). */
export function xOf(point: Point, axis: XAxis, origin: number): number {
  if (axis === "step") return point.step;
  if (axis === "wall") return point.time / 1000;
  return (point.time - origin) / 1000;
}

export function runLine(
  run: ChartRun,
  points: Point[],
  axis: XAxis,
  smoothing: number,
  logY: boolean,
): RunLine {
  const origin = run.startedAt?.getTime() ?? points[0]?.time ?? 0;
  // Wall times follow steps, except where a resumed run rewrote steps: keep x increasing for the chart.
  const ordered = axis === "step" ? points : [...points].sort((a, b) => a.time - b.time || a.step - b.step);
  const smoothed = debiasedEma(
    ordered.map((p) => p.value),
    smoothing,
  );
  // A log scale has no place for zero or negative values: they are left out, not clamped.
  const visible = (v: number | null) => (v === null || (logY && v <= 0) ? null : v);
  return {
    run,
    points: ordered,
    xs: ordered.map((p) => xOf(p, axis, origin)),
    raw: ordered.map((p) => visible(p.value)),
    smoothed: smoothed.map(visible),
  };
}

/**
 * uPlot's aligned data: one sorted x array (the union of every run's x) and, per run, its raw and smoothed
 * values at those x (null where the run has no point there; the lines span the gaps).
 */
export function alignLines(lines: RunLine[]): (number | null)[][] {
  const xs = [...new Set(lines.flatMap((l) => l.xs))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const columns: (number | null)[][] = [xs];
  for (const line of lines) {
    const raw = new Array<number | null>(xs.length).fill(null);
    const smooth = new Array<number | null>(xs.length).fill(null);
    line.xs.forEach((x, i) => {
      const at = index.get(x)!;
      raw[at] = line.raw[i]!;
      smooth[at] = line.smoothed[i]!;
    });
    columns.push(raw, smooth);
  }
  return columns;
}

/** Index of the point of `xs` (sorted) nearest to `x`; -1 when empty. */
export function nearestIndex(xs: number[], x: number): number {
  if (xs.length === 0) return -1;
  let lo = 0;
  let hi = xs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(xs[lo - 1]! - x) <= Math.abs(xs[lo]! - x)) return lo - 1;
  return lo;
}

/** "42s", "3m 05s", "2h 10m": relative time for the x axis. */
export function relativeTime(seconds: number): string {
  const s = Math.round(seconds);
  if (Math.abs(s) < 60) return `${s}s`;
  if (Math.abs(s) < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * Metric keys grouped by namespace (`objective/kl` → `objective`; `rewards/<fn>/mean` → `rewards/<fn>`, one
 * group per reward function), known namespaces first. The on-policy trainers' `timing/*` (seconds per
 * iteration) come last, in the order of an iteration's phases and then the total.
 */
const NAMESPACE_ORDER = [
  "train",
  "objective",
  "policy",
  "loss",
  "val",
  "eval",
  "rewards",
  "reward",
  "perf",
  "timing",
];
const TIMING_ORDER = ["generation", "reference", "reward", "update", "total"].map((k) => `timing/${k}`);
const byTimingOrder = (a: string, b: string) => {
  const rank = (k: string) => (TIMING_ORDER.includes(k) ? TIMING_ORDER.indexOf(k) : TIMING_ORDER.length);
  return rank(a) - rank(b) || a.localeCompare(b);
};

export function groupByNamespace(keys: string[]): { namespace: string; keys: string[] }[] {
  const groups = new Map<string, string[]>();
  for (const key of keys) {
    const parts = key.split("/");
    // One group per reward function (`rewards/<name>/mean`, `…/std`); DPO's `rewards/chosen` stays in `rewards`.
    const namespace =
      parts[0] === "rewards" && parts.length >= 3
        ? parts.slice(0, -1).join("/")
        : parts.length > 1 && parts[0]
          ? parts[0]
          : "train";
    groups.set(namespace, [...(groups.get(namespace) ?? []), key]);
  }
  const rank = (ns: string) => {
    const i = NAMESPACE_ORDER.indexOf(ns.startsWith("rewards/") ? "rewards" : ns);
    return i === -1 ? NAMESPACE_ORDER.length : i;
  };
  return [...groups.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([namespace, list]) => ({
      namespace,
      keys: namespace === "timing" ? list.sort(byTimingOrder) : list.sort(),
    }));
}
