/** Sign in or out through better-auth's endpoints (same origin; the session cookie is httpOnly). */
import { isLocale } from "@rlhf/core/locales";
import { setLocaleCookie } from "./i18n/locale-cookie";

/** Why a sign-in failed: for the form to say in the page's language (`message`: the server's own words). */
export type SignInFailure =
  | { ok: false; reason: "wrong-password" }
  | { ok: false; reason: "refused"; status: number; message?: string }
  | { ok: false; reason: "no-server" };

/** Signs in; the language saved on the account (users.locale) becomes this browser's language cookie. */
export async function signIn(email: string, password: string): Promise<{ ok: true } | SignInFailure> {
  let response: Response;
  try {
    response = await fetch("/api/auth/sign-in/email", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password }),
    });
  } catch {
    return { ok: false, reason: "no-server" };
  }
  const body = (await response.json().catch(() => ({}))) as { message?: string; user?: { locale?: unknown } };
  if (response.ok) {
    if (isLocale(body.user?.locale)) setLocaleCookie(body.user.locale);
    return { ok: true };
  }
  if (response.status === 401) return { ok: false, reason: "wrong-password" };
  return { ok: false, reason: "refused", status: response.status, message: body.message };
}

export async function signOut(): Promise<void> {
  await fetch("/api/auth/sign-out", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  }).catch(() => {});
  window.location.assign("/login");
}
