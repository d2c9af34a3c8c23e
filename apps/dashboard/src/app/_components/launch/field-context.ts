import type { JobKind } from "@rlhf/core/configs";
import type { ConfigIssue } from "~/lib/config-form";
import type { RouterOutputs } from "~/server/api/root";

export type Options = RouterOutputs["launch"]["options"];

/** What a form field reads and writes: the config (or one reward term of it) and its issues. */
export interface FieldContext {
  kind: JobKind;
  /** Prepended to a field's path in its element id and `data-field` (a reward term's `rewards.0.`). */
  prefix: string;
  /** Where a field is looked up in the pickers' tables: the job kind, or a reward term's function. */
  scope: string;
  values: Record<string, unknown>;
  change: (path: string, value: unknown) => void;
  touch: (path: string) => void;
  issueOf: (path: string) => string | undefined;
  /** The issues at a path and under it, once it was touched or the form submitted. */
  issuesUnder: (path: string) => ConfigIssue[];
  options: Options | undefined;
}
