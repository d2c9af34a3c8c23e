"use client";

import { LOCALES, type Locale } from "@rlhf/core/locales";
import { useRouter } from "next/navigation";
import { useLocale, useTranslations } from "next-intl";
import { useState, useTransition } from "react";
import { setLocaleCookie } from "./locale-cookie";

/** Each language named in itself, so a reader finds theirs whatever the page speaks. */
const NATIVE_NAMES: Record<Locale, string> = { en: "English", zh: "简体中文" };

/**
 * The language picker in each app's header (and on the sign-in page): sets the cookie, saves the choice
 * on the signed-in person's account (better-auth's update-user, `users.locale`), and re-renders the page.
 */
export function LocalePicker({ signedIn }: { signedIn: boolean }) {
  const t = useTranslations("ui.LocalePicker");
  const locale = useLocale();
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [error, setError] = useState(false);

  async function choose(next: Locale) {
    setLocaleCookie(next);
    setError(false);
    if (signedIn) {
      const response = await fetch("/api/auth/update-user", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ locale: next }),
      }).catch(() => null);
      // The page still changes language (the cookie is set); only the account did not keep it.
      if (!response?.ok) setError(true);
    }
    startTransition(() => router.refresh());
  }

  return (
    <label className="locale-picker" title={error ? t("notSaved") : undefined}>
      <span className="visually-hidden">{t("label")}</span>
      <select
        value={locale}
        disabled={pending}
        data-testid="locale-picker"
        onChange={(event) => void choose(event.target.value as Locale)}
      >
        {LOCALES.map((l) => (
          <option key={l} value={l} lang={l === "zh" ? "zh-Hans" : l}>
            {NATIVE_NAMES[l]}
          </option>
        ))}
      </select>
    </label>
  );
}
