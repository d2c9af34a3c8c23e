import type { Db, OpenDatabaseOptions } from "../db/open";
import { getDatabase } from "../db/process";
import { BodyTooLargeError, readBodyText } from "../http/body";
import { nulMessage, nulPath } from "../nul";
import { createAuth } from "./auth";
import { SignInLimiter } from "./limits";
import { isSameOrigin } from "./origin";
import { sessionsChanged, sessionUser } from "./session";

/** Largest body any auth endpoint takes (an email, a password, a name): bigger is a 413 before parsing. */
export const AUTH_MAX_BODY_BYTES = 64 * 1024;

// One per app server: the accounts' failed sign-ins (./limits.ts).
const signIns = new SignInLimiter();

const refuse = (status: number, message: string, headers: Record<string, string> = {}) =>
  Response.json({ message }, { status, headers });

/**
 * better-auth's endpoints (sign-in, sign-out, session) over `db`. Before the library sees a request: a
 * POST from another site's page is refused (the library checks the origin only of requests that carry a
 * session cookie, which leaves sign-in itself open to login CSRF); a body is read up to
 * AUTH_MAX_BODY_BYTES and refused if any field holds a NUL; and a sign-in for an account with too many
 * recent failures is refused whatever address it comes from (the library limits per address).
 */
export function authRequestHandler(
  db: Db,
  limiter: SignInLimiter = signIns,
): (request: Request) => Promise<Response> {
  return async (request) => {
    if (request.method === "GET") return createAuth(db).handler(request);
    if (!isSameOrigin(request.headers, request.url)) return refuse(403, "Cross-site request refused.");
    let text: string;
    try {
      text = await readBodyText(request, AUTH_MAX_BODY_BYTES);
    } catch (error) {
      if (error instanceof BodyTooLargeError) return refuse(413, error.message);
      throw error;
    }
    let body: unknown;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      body = undefined; // not JSON: the library answers for itself
    }
    const nul = nulPath(body);
    if (nul !== undefined) return refuse(400, nulMessage(nul));
    const forward = new Request(request.url, {
      method: request.method,
      headers: request.headers,
      body: text,
    });
    const email =
      new URL(request.url).pathname.endsWith("/sign-in/email") &&
      body &&
      typeof (body as { email?: unknown }).email === "string"
        ? (body as { email: string }).email.trim().toLowerCase()
        : undefined;
    if (email === undefined) {
      // Whose sessions a sign-out, a password change or an admin endpoint may end or narrow: app servers
      // that keep sessions in memory drop them once the library answers (./session.ts).
      const path = new URL(request.url).pathname;
      const caller = path.includes("/admin/") ? undefined : await sessionUser(db, request.headers);
      const response = await createAuth(db).handler(forward);
      if (response.ok && (caller || path.includes("/admin/"))) await sessionsChanged(db, caller?.id ?? "*");
      return response;
    }

    const wait = limiter.retryAfter(email);
    if (wait > 0) {
      return refuse(
        429,
        `Too many failed sign-ins for this account: try again in ${Math.ceil(wait / 60)} minute${wait > 60 ? "s" : ""}.`,
        { "retry-after": String(wait) },
      );
    }
    const response = await createAuth(db).handler(forward);
    if (response.status === 401) limiter.failed(email);
    else if (response.ok) limiter.succeeded(email);
    return response;
  };
}

/** The `/api/auth/[...all]` route of an app: `export const { GET, POST } = authRouteHandlers(options)`. */
export function authRouteHandlers(database: OpenDatabaseOptions) {
  const handler = async (request: Request): Promise<Response> => {
    const { db } = await getDatabase(database);
    return authRequestHandler(db)(request);
  };
  return { GET: handler, POST: handler };
}
