import { LOCALE_COOKIE, type Locale } from "@rlhf/core/locales";

/** A year: the choice outlives the session; signing in sets it again from the account. */
const COOKIE_SECONDS = 365 * 24 * 3600;

/** Remember `locale` in this browser: the cookie the server reads when it renders a page. */
export function setLocaleCookie(locale: Locale): void {
  // biome-ignore lint/suspicious/noDocumentCookie: one plain cookie the server reads; nothing to wait for.
  document.cookie = `${LOCALE_COOKIE}=${locale}; path=/; max-age=${COOKIE_SECONDS}; samesite=lax`;
}
