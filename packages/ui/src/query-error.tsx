import { useTranslations } from "next-intl";
import { LIVE_REFETCH_MS } from "./query-client";
import { type ServerText, useServerMessage } from "./server-message";

export {
  type ServerErrorLike,
  type ServerText,
  useServerMessage,
  useServerText,
} from "./server-message";

export interface QueryErrorLike {
  message: string;
  /** tRPC's error payload; absent when the request never got an answer from the server. */
  data?: { code?: string; text?: ServerText | null } | null;
}

export interface QueryErrorProps {
  error: QueryErrorLike;
  /** What could not be loaded, in the page's language, as in "Could not load {what}". */
  what: string;
}

/**
 * An error a person can act on: what failed, the server's reason, and what to check. `app` is the app
 * whose server answers the page, as in its package name `@rlhf/<app>`.
 */
export function QueryError({ error, what, app }: QueryErrorProps & { app: string }) {
  const t = useTranslations("ui.QueryError");
  const serverMessage = useServerMessage();
  const retry = t("retry", { seconds: LIVE_REFETCH_MS / 1000 });
  let title = t("title", { what });
  let hint = retry;
  if (!error.data) {
    title = t("noServerTitle", { app });
    hint = t("noServerHint", { app, retry });
  } else if (error.data.code === "SERVICE_UNAVAILABLE") {
    hint = t("databaseHint", { retry });
  }
  return (
    <div className="alert" role="alert">
      <strong>{title}</strong>
      <p className="alert__message">{serverMessage(error).text}</p>
      <p className="muted">{hint}</p>
    </div>
  );
}
