/**
 * next-intl's request configuration for an app (its `src/i18n/request.ts` is
 * `export default i18nRequestConfig({ en, zh })`): the language from the cookie or Accept-Language
 * (./negotiate.ts), the app's catalogue with the shared components' (`ui.*`) merged in.
 *
 * Nothing runs per request but what a page renders: there is no middleware and no locale in the path,
 * and the API routes never ask for a language.
 */
import { isLocale, LOCALE_COOKIE, type Locale } from "@rlhf/core/locales";
import { cookies, headers } from "next/headers";
import type { Messages } from "next-intl";
import { getRequestConfig } from "next-intl/server";
import uiEn from "../../messages/en.json";
import uiZh from "../../messages/zh.json";
import { negotiateLocale } from "./negotiate";

/** The shared components' own catalogue, for the apps' message types and tests. */
export const uiMessages = { en: uiEn, zh: uiZh } satisfies Record<Locale, unknown>;

export type UiMessages = typeof uiEn;

/** An app's whole catalogue in one language: its own namespaces and `ui`. */
export function catalogue<T extends object>(app: Record<Locale, T>, locale: Locale): T & UiMessages {
  return { ...uiMessages[locale], ...app[locale] } as T & UiMessages;
}

/** The language of the request being rendered. */
export async function requestLocale(): Promise<Locale> {
  const [cookieStore, headerList] = await Promise.all([cookies(), headers()]);
  return negotiateLocale(cookieStore.get(LOCALE_COOKIE)?.value, headerList.get("accept-language"));
}

export function i18nRequestConfig<T extends object>(app: Record<Locale, T>) {
  // A locale passed explicitly (getTranslations({ locale })) wins over the request's.
  return getRequestConfig(async (params) => {
    const locale = isLocale(params.locale) ? params.locale : await requestLocale();
    return { locale, messages: catalogue(app, locale) as unknown as Messages };
  });
}
