/**
 * Reading a request's body within a size limit, for every route that takes one: tRPC (../trpc/route.ts),
 * better-auth's endpoints (../auth/handlers.ts) and the dashboard's `/api/ingest`.
 */

export class BodyTooLargeError extends Error {
  override name = "BodyTooLargeError";
  readonly status = 413;
  constructor(readonly limit: number) {
    super(`the request body is over the limit of ${limit} bytes`);
  }
}

/** The request's body as text, read up to `limit` bytes (Content-Length checked first, then the stream). */
export async function readBodyText(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get("content-length") ?? 0);
  if (declared > limit) {
    await request.body?.cancel().catch(() => {});
    throw new BodyTooLargeError(limit);
  }
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLargeError(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
