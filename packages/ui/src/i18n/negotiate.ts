/**
 * Which language a request is answered in: the cookie the picker (or signing in) set, else the first
 * language in the browser's Accept-Language that the apps speak, else English. Any Chinese (zh, zh-CN,
 * zh-Hans, zh-TW, …) gets the Simplified Chinese catalogue, the only Chinese one there is.
 */
import { DEFAULT_LOCALE, isLocale, type Locale } from "@rlhf/core/locales";

export function negotiateLocale(
  cookie: string | undefined,
  acceptLanguage: string | null | undefined,
): Locale {
  if (isLocale(cookie)) return cookie;
  return fromAcceptLanguage(acceptLanguage ?? "") ?? DEFAULT_LOCALE;
}

/** The best-weighted language of an Accept-Language header that the apps speak (RFC 9110 §12.5.4). */
export function fromAcceptLanguage(header: string): Locale | undefined {
  const ranges = header
    .split(",")
    .map((part, index) => {
      const [tag = "", ...params] = part.trim().split(";");
      const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
      const weight = q === undefined ? 1 : Number(q.slice(2));
      return { primary: tag.trim().split("-")[0]!.toLowerCase(), weight, index };
    })
    .filter((range) => range.primary !== "" && Number.isFinite(range.weight) && range.weight > 0)
    .sort((a, b) => b.weight - a.weight || a.index - b.index);
  for (const range of ranges) if (isLocale(range.primary)) return range.primary;
  return undefined;
}
