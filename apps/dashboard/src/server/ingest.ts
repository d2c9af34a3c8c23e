/**
 * `POST /api/ingest`: metrics, samples and logs from runs trained elsewhere (TRL, OpenRLHF, any script),
 * authenticated with an ingest token (`Authorization: Bearer rlhf_…`, from `rlhf tokens create`). The token
 * is checked before the body is read, and the body is read up to INGEST_MAX_BYTES: nobody without a token
 * makes the server parse anything. The body is `ingestPayloadSchema` of @rlhf/core/ingest; a refusal
 * answers with IngestError's status and issues.
 */
import type { Database } from "@rlhf/core/db";
import { authenticateToken, IngestError, ingest } from "@rlhf/core/ingest";
import { BodyTooLargeError, readBodyText } from "@rlhf/core/trpc";

/** Largest ingest request: 100,000 metric values with long keys fit well inside it. */
export const INGEST_MAX_BYTES = 16 * 1024 * 1024;

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

export function createIngestHandler(getDatabase: () => Promise<Database>) {
  return async function POST(request: Request): Promise<Response> {
    let database: Database;
    try {
      database = await getDatabase();
    } catch (error) {
      return json(503, {
        error: `Database unreachable: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
    try {
      await authenticateToken(database, request.headers.get("authorization"));
      let body: unknown;
      try {
        body = JSON.parse(await readBodyText(request, INGEST_MAX_BYTES));
      } catch (error) {
        if (error instanceof BodyTooLargeError) return json(413, { error: error.message });
        return json(400, { error: "the body is not JSON; send the ingest payload as application/json" });
      }
      const result = await ingest(database, body, { trusted: true });
      return json(200, result); // `created` in the body says whether the run is new
    } catch (error) {
      if (error instanceof IngestError) {
        return json(error.status, {
          error: error.message,
          ...(error.issues.length ? { issues: error.issues } : {}),
        });
      }
      console.error(`POST /api/ingest: ${error instanceof Error ? error.stack : String(error)}`);
      return json(500, { error: "ingest failed on the server; see the dashboard's log" });
    }
  };
}
