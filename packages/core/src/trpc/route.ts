/**
 * Limits on what a request may make the server do, before any procedure runs: a body read only up to a
 * size (bigger is a 413, however the body is sent), and a cap on the calls in one tRPC batch. The apps'
 * `/api/trpc` routes are `trpcRouteHandler(...)`; `/api/ingest` uses readBodyText.
 */
import type { AnyRouter } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { useSessionCache } from "../auth/session";
import type { OpenDatabaseOptions } from "../db/open";
import { getDatabase } from "../db/process";
import { BodyTooLargeError, readBodyText } from "../http/body";
import { type Context, createContext } from "./trpc";

export { BodyTooLargeError, readBodyText };

/**
 * Largest tRPC request body from someone signed in: a 50 MB dataset import, escaped as a JSON string, fits.
 * Nobody else sends more than a few forms' worth (TRPC_MAX_ANONYMOUS_BYTES): the session is looked up before
 * the body is read, so a stranger cannot make the server parse tens of megabytes.
 */
export const TRPC_MAX_BODY_BYTES = 80 * 1024 * 1024;
export const TRPC_MAX_ANONYMOUS_BYTES = 1024 * 1024;
/**
 * Most calls in one tRPC batch. A page of twenty charts asks for a series and a cursor each; the client
 * splits bigger batches (packages/ui's link has the same figure).
 */
export const TRPC_MAX_BATCH = 64;

// Errors the caller caused (bad input, not signed in) are answers, not server faults: not logged.
const CALLER_ERRORS = new Set([
  "BAD_REQUEST",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "NOT_FOUND",
  "CONFLICT",
  "PAYLOAD_TOO_LARGE",
  "METHOD_NOT_SUPPORTED",
]);

/** An app's `/api/trpc/[trpc]` route: `export { handler as GET, handler as POST }`. */
export function trpcRouteHandler(options: {
  router: AnyRouter;
  database: OpenDatabaseOptions;
  /** Queries sent as POST (the dashboard's client, whose batches outgrow a URL). */
  allowMethodOverride?: boolean;
  maxBodyBytes?: number;
  /**
   * Answer recently seen sessions from memory (`useSessionCache` in ../auth/session.ts): no query for the
   * session on most requests. The labeler, whose every request is a signed-in annotator's, turns it on.
   */
  sessionCache?: boolean;
}): (request: Request) => Promise<Response> {
  let cacheStarted = false;
  return async (request) => {
    if (options.sessionCache && !cacheStarted) {
      const database = await getDatabase(options.database).catch(() => undefined);
      if (database) {
        useSessionCache(database.db);
        cacheStarted = true;
      }
    }
    let context: Context | undefined;
    let contextError: unknown;
    try {
      context = await createContext({ headers: request.headers, database: options.database });
    } catch (error) {
      contextError = error; // reported by tRPC below, in its own error shape
    }
    const limit = context?.session
      ? (options.maxBodyBytes ?? TRPC_MAX_BODY_BYTES)
      : Math.min(options.maxBodyBytes ?? TRPC_MAX_BODY_BYTES, TRPC_MAX_ANONYMOUS_BYTES);
    let req = request;
    // A body of declared length within the limit is passed on as it came: Node's HTTP parser reads exactly
    // Content-Length bytes, so it cannot be longer (and tRPC reads it once instead of twice). Any other
    // body is read here up to the limit.
    const declared = request.headers.get("content-length");
    const bounded =
      declared !== null &&
      /^\d+$/.test(declared) &&
      Number(declared) <= limit &&
      !request.headers.has("transfer-encoding");
    if (request.method === "POST" && !bounded) {
      let text: string;
      try {
        text = await readBodyText(request, limit);
      } catch (error) {
        if (!(error instanceof BodyTooLargeError)) throw error;
        return Response.json(
          {
            error: {
              message: error.message,
              code: -32600,
              data: { code: "PAYLOAD_TOO_LARGE", httpStatus: 413 },
            },
          },
          { status: 413 },
        );
      }
      req = new Request(request.url, { method: "POST", headers: request.headers, body: text });
    }
    const response = await fetchRequestHandler({
      endpoint: "/api/trpc",
      router: options.router,
      req,
      allowMethodOverride: options.allowMethodOverride,
      maxBatchSize: TRPC_MAX_BATCH,
      createContext: async () => {
        if (context) return context;
        throw contextError;
      },
      onError: ({ path, error }) => {
        if (!CALLER_ERRORS.has(error.code)) console.error(`tRPC ${path ?? "?"}: ${error.message}`);
      },
    });
    // Next's server gzips every reply (it drops a route's Content-Length, so its compression cannot see
    // that a reply is small), and gzip's setup costs more CPU than a few hundred bytes are worth (~9% of
    // the labeler's busy CPU, measured). A reply under 1 KiB that is not streamed is marked no-transform,
    // which the compression honours; longer ones are still compressed.
    if (request.headers.has("trpc-accept") || !response.body) return response;
    const body = await response.arrayBuffer();
    const headers = new Headers(response.headers);
    if (body.byteLength < 1024) {
      const cacheControl = headers.get("cache-control");
      headers.set("cache-control", cacheControl ? `${cacheControl}, no-transform` : "no-store, no-transform");
    }
    return new Response(body, { status: response.status, statusText: response.statusText, headers });
  };
}
