import { LIVE_REFETCH_MS } from "~/trpc/query-client";

interface QueryErrorLike {
  message: string;
  /** tRPC's error payload; absent when the request never got an answer from the server. */
  data?: { code?: string } | null;
}

/** An error a person can act on: what failed, the server's reason, and what to check. */
export function QueryError({ error, what }: { error: QueryErrorLike; what: string }) {
  const retry = `Retrying every ${LIVE_REFETCH_MS / 1000} s.`;
  let title = `Could not load ${what}`;
  let hint = retry;
  if (!error.data) {
    title = "The dashboard server is not answering";
    hint = `Is it still running (pnpm --filter @rlhf/dashboard start)? ${retry}`;
  } else if (error.data.code === "SERVICE_UNAVAILABLE") {
    hint = `Check that PostgreSQL is running and DATABASE_URL is right, or unset DATABASE_URL to use the embedded database. ${retry}`;
  }
  return (
    <div className="alert" role="alert">
      <strong>{title}</strong>
      <p className="alert__message">{error.message}</p>
      <p className="muted">{hint}</p>
    </div>
  );
}
