/**
 * Answering /api/trpc before Next.js's router sees the request. The labeling calls are small and many (500
 * annotators each fetching and submitting a task every few seconds), and Next's own handling of a route —
 * its router, request and response wrappers, web streams, compression — cost more CPU than the call itself
 * (~40% of the server's busy time, profiled). The workbench's preload (packages/core/src/auth/
 * client-address.cjs, which `rlhf start`, `pnpm --filter @rlhf/labeler start`, the tests and the benchmarks
 * run the server with) offers each request to `globalThis.__rlhfServeBeforeNext` after it has written the
 * client's address header; this module puts the tRPC handler there. It is the same handler as the route's
 * (body limits, batch cap, session cache, same-origin check on mutations, error shapes), with the headers
 * next.config.ts adds to every reply, and compressed as Next compresses: a whole reply of 1 KiB or more
 * (tRPC's streamed batches are not).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { gzipSync } from "node:zlib";
import { TRPC_MAX_ANONYMOUS_BYTES } from "@rlhf/core/trpc";
import { securityHeaders } from "../../../../packages/ui/src/security-headers";

type Handler = (request: Request) => Promise<Response>;
type BeforeNext = (request: IncomingMessage, response: ServerResponse) => boolean;

/** Replies shorter than this are sent as they are (gzip's setup costs more than it saves), as Next does. */
const COMPRESS_FROM_BYTES = 1024;

/** Offer every request under `prefix` to `handler` before Next.js's router. */
export function serveBeforeNext(prefix: string, handler: Handler): void {
  const hook: BeforeNext = (req, res) => {
    if (!req.url?.startsWith(prefix)) return false;
    answer(req, res, handler).catch((error: unknown) => {
      console.error(`${req.method} ${req.url?.split("?")[0]}: ${(error as Error)?.message ?? error}`);
      if (!res.headersSent) {
        res.statusCode = 500;
        res.setHeader("content-type", "application/json");
      }
      res.end(res.headersSent ? undefined : JSON.stringify({ error: { message: "Internal server error" } }));
    });
    return true;
  };
  (globalThis as { __rlhfServeBeforeNext?: BeforeNext }).__rlhfServeBeforeNext = hook;
}

async function answer(req: IncomingMessage, res: ServerResponse, handler: Handler): Promise<void> {
  const response = await handler(await toRequest(req));
  res.statusCode = response.status;
  for (const { key, value } of securityHeaders) res.setHeader(key, value);
  for (const [key, value] of response.headers) if (key !== "set-cookie") res.setHeader(key, value);
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader("set-cookie", cookies);
  if (!response.body) {
    res.end();
  } else if (req.headers["trpc-accept"]) {
    await stream(response.body, res);
  } else {
    let body = Buffer.from(await response.arrayBuffer());
    const gzip =
      /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? "")) &&
      !/no-transform/.test(response.headers.get("cache-control") ?? "");
    if (gzip && body.byteLength >= COMPRESS_FROM_BYTES) {
      body = gzipSync(body);
      res.setHeader("content-encoding", "gzip");
      const vary = res.getHeader("vary");
      res.setHeader("vary", vary ? `${vary}, Accept-Encoding` : "Accept-Encoding");
    }
    res.setHeader("content-length", body.byteLength);
    res.end(body);
  }
}

/**
 * The Fetch API request tRPC's handler takes. A body of declared length within what anyone may send is
 * read here in one piece; any other (bigger, or of unknown length) is passed on as a stream, which the
 * handler reads only up to the caller's limit (a stranger's is 1 MB, someone signed in may import 50 MB).
 */
async function toRequest(req: IncomingMessage): Promise<Request> {
  const headers = new Headers();
  for (const [key, value] of Object.entries(req.headers)) {
    if (key.startsWith(":") || value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) headers.append(key, item);
    else headers.set(key, value);
  }
  const url = `http://${req.headers.host ?? "localhost"}${req.url}`;
  const method = req.method ?? "GET";
  if (method === "GET" || method === "HEAD") return new Request(url, { method, headers });
  const declared = req.headers["content-length"];
  if (
    declared !== undefined &&
    Number(declared) <= TRPC_MAX_ANONYMOUS_BYTES &&
    !req.headers["transfer-encoding"]
  ) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return new Request(url, { method, headers, body: Buffer.concat(chunks) });
  }
  return new Request(url, { method, headers, body: bodyStream(req), duplex: "half" } as RequestInit);
}

/**
 * The body as a stream the handler may stop reading (a body over the caller's limit). Stopping does not
 * destroy the connection, as `Readable.toWeb`'s cancel would — the client would get a reset instead of
 * the 413 — the rest is read and dropped, as Node's server drops an unread body after the reply.
 */
function bodyStream(req: IncomingMessage): ReadableStream<Uint8Array> {
  let cancelled = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      req.on("data", (chunk: Buffer) => {
        if (cancelled) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 1) <= 0) req.pause();
      });
      req.once("end", () => cancelled || controller.close());
      req.once("error", (error) => cancelled || controller.error(error));
    },
    pull() {
      req.resume();
    },
    cancel() {
      cancelled = true;
      req.resume();
    },
  });
}

/** A streamed reply (tRPC's batch stream), each part written as it comes; not compressed, as in Next. */
async function stream(body: ReadableStream<Uint8Array>, res: ServerResponse): Promise<void> {
  const reader = body.getReader();
  const closed = () => void reader.cancel().catch(() => {});
  res.once("close", closed);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await new Promise((resolve) => res.once("drain", resolve));
    }
  } finally {
    res.off("close", closed);
    res.end();
  }
}
