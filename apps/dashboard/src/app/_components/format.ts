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
