"use client";

import { signIn } from "@rlhf/ui/auth-client";
import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useTRPC } from "~/trpc/react";

/** The first admin's account: no default password, chosen here, at least 8 characters. */
export function SetupForm() {
  const trpc = useTRPC();
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
        Your name
        <input name="name" required />
      </label>
      <label>
        Email
        <input name="email" type="email" autoComplete="username" required />
      </label>
      <label>
        Password <span className="muted">(8 characters or more)</span>
        <input name="password" type="password" autoComplete="new-password" minLength={8} required />
      </label>
      <label>
        Password again
        <input name="again" type="password" autoComplete="new-password" minLength={8} required />
      </label>
      {(mismatch || setup.error) && (
        <p className="form-error" role="alert">
          {mismatch ? "The two passwords differ." : setup.error?.message}
        </p>
      )}
      <button type="submit" className="button button--primary" disabled={setup.isPending}>
        Create the admin account
      </button>
    </form>
  );
}
