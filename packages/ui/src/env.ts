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
  /** The interface the app listens on (`rlhf start --host`); unset or loopback: this machine only. */
  RLHF_HOST: optional(z.string()),
  /** With the app reachable from other machines, let people without an account read it (`--public-read`). */
  RLHF_PUBLIC_READ: optional(z.enum(["0", "1", "true", "false"])).transform((v) => v === "1" || v === "true"),
});

export type Env = z.infer<typeof schema>;

/** `app` names the app in the error, as in its package name `@rlhf/<app>`. */
export function parseEnv(app: string): Env {
  const parsed = schema.safeParse({
    DATABASE_URL: process.env.DATABASE_URL,
    RLHF_HOME: process.env.RLHF_HOME,
    NODE_ENV: process.env.NODE_ENV,
    RLHF_HOST: process.env.RLHF_HOST,
    RLHF_PUBLIC_READ: process.env.RLHF_PUBLIC_READ,
  });
  if (!parsed.success) {
    throw new Error(`Invalid environment for the ${app}:\n${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost", "[::1]"]);

/**
 * Whether reading the app's data needs an account: when it listens beyond this machine (RLHF_HOST is not
 * a loopback address) and its owner did not turn RLHF_PUBLIC_READ on.
 */
export function readingNeedsAccount(env: Pick<Env, "RLHF_HOST" | "RLHF_PUBLIC_READ">): boolean {
  const host = env.RLHF_HOST;
  const local = host === undefined || LOOPBACK.has(host) || host.startsWith("127.");
  return !local && !env.RLHF_PUBLIC_READ;
}
