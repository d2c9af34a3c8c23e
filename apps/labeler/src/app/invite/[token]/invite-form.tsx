"use client";

import { signIn } from "@rlhf/ui/auth-client";
import { useServerMessage } from "@rlhf/ui/query-error";
import { useMutation } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import type { FormEvent } from "react";
import { useTRPC } from "~/trpc/react";

export function InviteForm({ token, email }: { token: string; email: string }) {
  const t = useTranslations("Invite");
  const trpc = useTRPC();
  const serverMessage = useServerMessage();
  const accept = useMutation(trpc.account.acceptInvite.mutationOptions());

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const password = String(form.get("password"));
    const done = await accept
      .mutateAsync({ token, name: String(form.get("name")), password })
      .catch(() => null);
    if (done && (await signIn(email, password)).ok) window.location.assign("/");
  }

  return (
    <form className="auth-form" onSubmit={onSubmit}>
      <label>
        {t("email")}
        <input value={email} readOnly />
      </label>
      <label>
        {t("name")}
        <input name="name" required />
      </label>
      <label>
        {t("password")} <span className="muted">{t("passwordHint")}</span>
        <input name="password" type="password" autoComplete="new-password" minLength={8} required />
      </label>
      {accept.error && (
        <p className="form-error" role="alert">
          {serverMessage(accept.error).text}
        </p>
      )}
      <button type="submit" className="button button--primary" disabled={accept.isPending}>
        {t("submit")}
      </button>
    </form>
  );
}
