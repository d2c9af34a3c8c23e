const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

/** "12 seconds ago", "3 minutes ago", "yesterday": how long ago `date` was, as of `now`. */
export function timeAgo(date: Date, now: number = Date.now()): string {
  const seconds = Math.round((date.getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 60) return relative.format(seconds, "second");
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86_400) return relative.format(Math.round(seconds / 3600), "hour");
  return relative.format(Math.round(seconds / 86_400), "day");
}

/** "4 s", "2 min 5 s", "1 h 3 min". */
export function duration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Full local date and time, for tooltips. */
export function dateTime(date: Date): string {
  return date.toLocaleString("en", { dateStyle: "medium", timeStyle: "medium" });
}

/** A metric value with 4 significant digits, without exponent noise for ordinary magnitudes. */
export function metricValue(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(3);
  return Number(value.toPrecision(4)).toLocaleString("en", { maximumFractionDigits: 6 });
}

/** A tick label of a chart's y axis: short (3 significant digits, "5e-4" rather than "5.000e-4"). */
export function axisValue(value: number | null): string {
  // uPlot passes null for ticks it drops (a log scale's).
  if (value === null || !Number.isFinite(value)) return "";
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return Number(value.toPrecision(2)).toExponential();
  return Number(value.toPrecision(3)).toLocaleString("en", { maximumFractionDigits: 6 });
}

/** 12,345 */
export function integer(value: number): string {
  return value.toLocaleString("en");
}

/** "812 B", "1.4 KiB", "23.5 MiB". */
export function bytes(value: number): string {
  if (value < 1024) return `${value} B`;
  const units = ["KiB", "MiB", "GiB"];
  let scaled = value / 1024;
  let unit = 0;
  while (scaled >= 1024 && unit < units.length - 1) {
    scaled /= 1024;
    unit += 1;
  }
  return `${scaled.toFixed(scaled < 10 ? 1 : 0)} ${units[unit]}`;
}
