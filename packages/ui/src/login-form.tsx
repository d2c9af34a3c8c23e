"use client";

import { useTranslations } from "next-intl";
import { type FormEvent, useState } from "react";
import { type SignInFailure, signIn } from "./auth-client";

/** The class names each app styles its sign-in form with (a CSS module's may be undefined to TypeScript). */
export type LoginFormClassNames = Record<"form" | "error" | "submit", string | undefined>;

/** Email and password to better-auth's sign-in endpoint; on success, a full load of `next` with the cookie set. */
export function LoginForm({ next, classNames }: { next: string; classNames: LoginFormClassNames }) {
  const t = useTranslations("ui.LoginForm");
  const [failure, setFailure] = useState<SignInFailure | null>(null);
  const [pending, setPending] = useState(false);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setPending(true);
    setFailure(null);
    const result = await signIn(String(form.get("email")), String(form.get("password")));
    if (result.ok) {
      window.location.assign(next);
      return;
    }
    setFailure(result);
    setPending(false);
  }

  const error =
    failure === null
      ? null
      : failure.reason === "wrong-password"
        ? t("wrongPassword")
        : failure.reason === "no-server"
          ? t("noServer")
          : (failure.message ?? t("failed", { status: failure.status }));

  return (
    <form className={classNames.form} onSubmit={onSubmit}>
      <label>
        {t("email")}
        <input name="email" type="email" autoComplete="username" required />
      </label>
      <label>
        {t("password")}
        <input name="password" type="password" autoComplete="current-password" required />
      </label>
      {error && (
        <p className={classNames.error} role="alert">
          {error}
        </p>
      )}
      <button type="submit" className={classNames.submit} disabled={pending}>
        {pending ? t("submitting") : t("submit")}
      </button>
    </form>
  );
}
