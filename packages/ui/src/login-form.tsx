"use client";

import { type FormEvent, useState } from "react";
import { signIn } from "./auth-client";

/** The class names each app styles its sign-in form with (a CSS module's may be undefined to TypeScript). */
export type LoginFormClassNames = Record<"form" | "error" | "submit", string | undefined>;

/** Email and password to better-auth's sign-in endpoint; on success, a full load of `next` with the cookie set. */
export function LoginForm({ next, classNames }: { next: string; classNames: LoginFormClassNames }) {
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setPending(true);
    setError(null);
    const result = await signIn(String(form.get("email")), String(form.get("password")));
    if (result.ok) {
      window.location.assign(next);
      return;
    }
    setError(result.message);
    setPending(false);
  }

  return (
    <form className={classNames.form} onSubmit={onSubmit}>
      <label>
        Email
        <input name="email" type="email" autoComplete="username" required />
      </label>
      <label>
        Password
        <input name="password" type="password" autoComplete="current-password" required />
      </label>
      {error && (
        <p className={classNames.error} role="alert">
          {error}
        </p>
      )}
      <button type="submit" className={classNames.submit} disabled={pending}>
        {pending ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}
