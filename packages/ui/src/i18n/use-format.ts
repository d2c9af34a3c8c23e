/**
 * ../format.ts bound to the page's language, for client components:
 * `const format = useFormat(); format.timeAgo(date)`.
 */
import { useLocale } from "next-intl";
import { useMemo } from "react";
import * as format from "../format";

export function useFormat() {
  const locale = useLocale();
  return useMemo(() => formatterFor(locale), [locale]);
}

/** The same, for server code that knows the locale (`formatterFor(await getLocale())`). */
export function formatterFor(locale: string) {
  return {
    locale,
    timeAgo: (date: Date, now?: number) => format.timeAgo(date, locale, now),
    duration: (ms: number) => format.duration(ms, locale),
    dateTime: (date: Date) => format.dateTime(date, locale),
    integer: (value: number) => format.integer(value, locale),
    metricValue: (value: number | null | undefined) => format.metricValue(value, locale),
    axisValue: (value: number | null) => format.axisValue(value, locale),
    bytes: format.bytes,
  };
}
