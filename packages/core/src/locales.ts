/**
 * The languages the apps speak: English and Simplified Chinese. A person's choice is stored on their user
 * row (`users.locale`, null until they pick one) and carried by the apps in a cookie; see
 * docs/labeling.md#language.
 */
export const LOCALES = ["en", "zh"] as const;

export type Locale = (typeof LOCALES)[number];

/** What the apps speak when neither the cookie nor the browser names a language they have. */
export const DEFAULT_LOCALE: Locale = "en";

/** The cookie that carries the chosen language (set by the picker and on sign-in; not httpOnly). */
export const LOCALE_COOKIE = "rlhf.locale";

export function isLocale(value: unknown): value is Locale {
  return typeof value === "string" && (LOCALES as readonly string[]).includes(value);
}
