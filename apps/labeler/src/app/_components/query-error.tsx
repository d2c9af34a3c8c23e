import { type QueryErrorProps, QueryError as SharedQueryError } from "@rlhf/ui/query-error";

/** A query that failed on a labeler page: what failed, why, and what to check. */
export function QueryError(props: QueryErrorProps) {
  return <SharedQueryError {...props} app="labeler" />;
}
