"use client";

import { useLocale } from "next-intl";
import { z } from "zod";

let configured: string | undefined;

/**
 * zod's own messages ("Too small: expected number to be >=1") in the page's language, for the forms that
 * validate as you type (launch, playground). Browser only: the server's zod stays English for every request.
 * Messages a schema writes itself (a refinement's) stay as written.
 */
export function useZodLocale(): void {
  const locale = useLocale();
  if (typeof window === "undefined" || configured === locale) return;
  z.config(locale === "zh" ? z.locales.zhCN() : z.locales.en());
  configured = locale;
}
