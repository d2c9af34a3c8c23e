"use client";

import { signIn } from "@rlhf/ui/auth-client";
import { useServerMessage } from "@rlhf/ui/query-error";
import { useMutation } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { type FormEvent, useState } from "react";
import { useTRPC } from "~/trpc/react";

/** The first admin's account: no default password, chosen here, at least 8 characters. */
export function SetupForm() {
  const t = useTranslations("Setup");
  const trpc = useTRPC();
  const serverMessage = useServerMessage();
  const setup = useMutation(trpc.account.setup.mutationOptions());
  const [mismatch, setMismatch] = useState(false);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const password = String(form.get("password"));
    if (password !== form.get("again")) {
      setMismatch(true);
      return;
    }
    setMismatch(false);
    const email = String(form.get("email"));
    await setup.mutateAsync({ email, name: String(form.get("name")), password }).catch(() => {});
    if ((await signIn(email, password)).ok) window.location.assign("/admin");
  }

  return (
    <form className="auth-form" onSubmit={onSubmit}>
      <label>
        {t("name")}
        <input name="name" required />
      </label>
      <label>
        {t("email")}
        <input name="email" type="email" autoComplete="username" required />
      </label>
      <label>
        {t("password")} <span className="muted">{t("passwordHint")}</span>
        <input name="password" type="password" autoComplete="new-password" minLength={8} required />
      </label>
      <label>
        {t("again")}
        <input name="again" type="password" autoComplete="new-password" minLength={8} required />
      </label>
      {(mismatch || setup.error) && (
        <p className="form-error" role="alert">
          {mismatch ? t("mismatch") : setup.error && serverMessage(setup.error).text}
        </p>
      )}
      <button type="submit" className="button button--primary" disabled={setup.isPending}>
        {t("submit")}
      </button>
    </form>
  );
}
