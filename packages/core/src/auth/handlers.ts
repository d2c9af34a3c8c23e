import type { Db, OpenDatabaseOptions } from "../db/open";
import { getDatabase } from "../trpc/trpc";
import { createAuth } from "./auth";
import { isSameOrigin } from "./origin";

/**
 * better-auth's endpoints (sign-in, sign-out, session) over `db`. A POST from another site's page is
 * refused before it reaches the library: it checks the origin of requests that carry a session cookie,
 * which leaves sign-in itself open to login CSRF (an attacker's page signing you into their account).
 */
export function authRequestHandler(db: Db): (request: Request) => Promise<Response> {
  return async (request) => {
    if (request.method !== "GET" && !isSameOrigin(request.headers, request.url)) {
      return Response.json({ message: "Cross-site request refused." }, { status: 403 });
    }
    return createAuth(db).handler(request);
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
