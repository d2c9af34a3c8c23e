/**
 * How the workbench writes times, durations and numbers for people, in the reader's language (`locale`:
 * "en" or "zh", anything Intl takes). Pure functions, one place for the dashboard, the labeler
 * (`@rlhf/ui/format`, and `useFormat()` bound to the page's language) and the CLI, which stays English and
 * writes the compact forms ("5s ago", "2m5s").
 */

const relativeFormats = new Map<string, Intl.RelativeTimeFormat>();

function relative(locale: string, style: TimeStyle): Intl.RelativeTimeFormat {
  const key = `${locale}:${style}`;
  let format = relativeFormats.get(key);
  if (!format) {
    format =
      style === "narrow"
        ? new Intl.RelativeTimeFormat(locale, { style: "narrow", numeric: "always" })
        : new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
    relativeFormats.set(key, format);
  }
  return format;
}

/** "long": "3 minutes ago", "yesterday"; "narrow" (the CLI's tables): "3m ago", "1d ago", never ahead. */
export type TimeStyle = "long" | "narrow";

/** "12 seconds ago", "3 minutes ago", "yesterday" ("3分钟前", "昨天"): how long ago `date` was, as of `now`. */
export function timeAgo(
  date: Date,
  locale = "en",
  now: number = Date.now(),
  style: TimeStyle = "long",
): string {
  let seconds = Math.round((date.getTime() - now) / 1000);
  // A table of past events says "0s ago" for a clock a little ahead, not "in 1s".
  if (style === "narrow") seconds = -Math.max(0, -seconds);
  const abs = Math.abs(seconds);
  const format = relative(locale, style);
  if (abs < 60) return format.format(seconds, "second");
  if (abs < 3600) return format.format(Math.round(seconds / 60), "minute");
  if (abs < 86_400) return format.format(Math.round(seconds / 3600), "hour");
  return format.format(Math.round(seconds / 86_400), "day");
}

/** The units `duration` writes, per language (Chinese: 秒, 分, 小时, with a space as in "2 分 5 秒"). */
const DURATION_UNITS: Record<string, { s: string; min: string; h: string }> = {
  en: { s: "s", min: "min", h: "h" },
  zh: { s: "秒", min: "分", h: "小时" },
};

/** "4 s", "2 min 5 s", "1 h 3 min" ("4 秒", "2 分 5 秒", "1 小时 3 分"). */
export function duration(ms: number, locale = "en"): string {
  const units = DURATION_UNITS[language(locale)] ?? DURATION_UNITS.en!;
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} ${units.s}`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} ${units.min} ${seconds % 60} ${units.s}`;
  return `${Math.floor(minutes / 60)} ${units.h} ${minutes % 60} ${units.min}`;
}

/** The CLI's compact duration, English: "4s", "2m5s", "1h3m". */
export function compactDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h${minutes % 60}m`;
}

/** Full local date and time, for tooltips: "Dec 5, 2026, 2:25:05 AM" ("2026年12月5日 02:25:05"). */
export function dateTime(date: Date, locale = "en"): string {
  return date.toLocaleString(locale, { dateStyle: "medium", timeStyle: "medium" });
}

/** 12,345 */
export function integer(value: number, locale = "en"): string {
  return value.toLocaleString(locale);
}

/** A metric value with 4 significant digits, without exponent noise for ordinary magnitudes. */
export function metricValue(value: number | null | undefined, locale = "en"): string {
  if (value === null || value === undefined) return "—";
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(3);
  return Number(value.toPrecision(4)).toLocaleString(locale, { maximumFractionDigits: 6 });
}

/** A tick label of a chart's y axis: short (3 significant digits, "5e-4" rather than "5.000e-4"). */
export function axisValue(value: number | null, locale = "en"): string {
  // uPlot passes null for ticks it drops (a log scale's).
  if (value === null || !Number.isFinite(value)) return "";
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return Number(value.toPrecision(2)).toExponential();
  return Number(value.toPrecision(3)).toLocaleString(locale, { maximumFractionDigits: 6 });
}

/** "812 B", "1.4 KiB", "23.5 MiB" (the same in every language). */
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

/** "zh-CN" → "zh". */
function language(locale: string): string {
  return locale.split("-")[0]!.toLowerCase();
}
