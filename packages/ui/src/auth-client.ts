/** Sign in or out through better-auth's endpoints (same origin; the session cookie is httpOnly). */
export async function signIn(
  email: string,
  password: string,
): Promise<{ ok: true } | { ok: false; message: string }> {
  try {
    const response = await fetch("/api/auth/sign-in/email", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password }),
    });
    if (response.ok) return { ok: true };
    const body = (await response.json().catch(() => ({}))) as { message?: string };
    return {
      ok: false,
      message:
        response.status === 401
          ? "Wrong email or password."
          : (body.message ?? `Sign-in failed (${response.status}).`),
    };
  } catch {
    return { ok: false, message: "The server is not answering. Is it still running?" };
  }
}

export async function signOut(): Promise<void> {
  await fetch("/api/auth/sign-out", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  }).catch(() => {});
  window.location.assign("/login");
}
