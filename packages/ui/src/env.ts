/**
 * An app's environment, validated once at start-up: each app's `src/env.ts` calls `parseEnv` and is the
 * only place that reads `process.env`. Server-side only (nothing here is public).
 */
import { z } from "zod";

/** `DATABASE_URL=` (empty, as in a copied .env) means unset, as it does for the CLI and the worker. */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === "" ? undefined : value), schema.optional());

const schema = z.object({
  /** PostgreSQL to use; unset: the workbench's embedded server (started on first use). */
  DATABASE_URL: optional(
    z.url({ protocol: /^postgres(ql)?$/, error: "must be a postgres:// or postgresql:// connection string" }),
  ),
  /** Workbench home holding the embedded database; unset: `.rlhf/` at the repository root. */
  RLHF_HOME: optional(z.string()),
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
});

export type Env = z.infer<typeof schema>;

/** `app` names the app in the error, as in its package name `@rlhf/<app>`. */
export function parseEnv(app: string): Env {
  const parsed = schema.safeParse({
    DATABASE_URL: process.env.DATABASE_URL,
    RLHF_HOME: process.env.RLHF_HOME,
    NODE_ENV: process.env.NODE_ENV,
  });
  if (!parsed.success) {
    throw new Error(`Invalid environment for the ${app}:\n${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}
