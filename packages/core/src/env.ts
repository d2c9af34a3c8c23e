/**
 * The settings core and the trainer take from the environment, in one validated (zod) schema: the only
 * place of both packages that reads `process.env` (a test greps for any other, test/env.test.ts). The web
 * apps read theirs in their own `src/env.ts`. Read on each call, not once: `rlhf start` and the tests set
 * variables for what they start after this module loaded. An invalid value throws, naming the variable.
 *
 * Processes that start other processes pass their whole environment on (`childEnv`), and a few places
 * must write a variable for a library that reads it (`setEnv`).
 */
import { z } from "zod";

/** `X=` (empty, as in a copied .env) means unset. */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === "" ? undefined : value), schema.optional());
const text = optional(z.string());
const flag = optional(z.string()).transform((value) => value === "1");
const port = optional(z.coerce.number().int().min(1).max(65_535));

const schema = z.object({
  /** PostgreSQL to use; unset: the workbench's embedded server (docs/database.md). */
  DATABASE_URL: text,
  /** Workbench home (embedded database, checkpoints, auth secret); unset: `.rlhf/` at the checkout's root. */
  RLHF_HOME: text,
  /** `embedded`: the DATABASE_URL given is the embedded server's (`rlhf start` passes it to its children). */
  RLHF_DB_MODE: optional(z.enum(["embedded", "external"])),
  /** Port of the embedded server (default 54329; the next free one when it is taken). */
  RLHF_DB_PORT: port,
  /** `1`: no notices of the embedded server, the queue and better-auth on stderr. */
  RLHF_QUIET: flag,
  /** Proxies whose X-Forwarded-For is believed (comma-separated addresses), see docs/security.md. */
  RLHF_TRUSTED_PROXIES: text,
  /** The apps' public URL; https there means secure cookies. */
  BETTER_AUTH_URL: text,
  /** The key that signs session cookies; unset: one generated into the workbench home. */
  BETTER_AUTH_SECRET: text,
  /** A job process stops its run (checkpointed, back in the queue) after a database outage this long. */
  RLHF_OUTAGE_LIMIT_SECONDS: optional(z.coerce.number().positive()),
  /** The worker a job process runs for (set by the worker for its child). */
  RLHF_WORKER_ID: text,
  /** `rlhf users create`'s password, instead of asking for it. */
  RLHF_ADMIN_PASSWORD: text,
  /** Where `rlhf log` sends an external run's metrics, and the API token it sends with them. */
  RLHF_INGEST_URL: text,
  RLHF_TOKEN: text,
  /** The trainer's native kernels: `0` turns them off; where their compiled library is cached; the compiler. */
  RLHF_NATIVE_KERNELS: text,
  RLHF_NATIVE_CACHE: text,
  CXX: text,
  /** WebGPU through Vulkan: the driver manifest (a software one is found when unset) and its runtime dir. */
  VK_ICD_FILENAMES: text,
  XDG_RUNTIME_DIR: text,
  /** The directory `pnpm rlhf …` was typed in (pnpm sets it; the CLI resolves relative paths from it). */
  INIT_CWD: text,
  /** Node's options: the apps' servers get the client-address preload added to them. */
  NODE_OPTIONS: text,
  /** Tests: the browser used, and `1` to rewrite the documents the probes generate. */
  CHROMIUM_PATH: text,
  RLHF_WRITE_DOCS: flag,
});

export type CoreEnv = z.infer<typeof schema>;
export type CoreEnvName = keyof CoreEnv;

/** The settings of `source` (default: this process's environment), validated. */
export function coreEnv(source: Record<string, string | undefined> = process.env): CoreEnv {
  const picked = Object.fromEntries(Object.keys(schema.shape).map((name) => [name, source[name]]));
  const parsed = schema.safeParse(picked);
  if (!parsed.success) throw new Error(`Invalid environment:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** The whole environment, to pass on to a child process (with `extra` over it). */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...extra };
}

/**
 * Set (or, with undefined, remove) a variable of this process: for a library, or a child started later,
 * that reads it itself. `unlessSet`: only when it is not set at all (an empty value counts as set).
 */
export function setEnv(
  name: CoreEnvName,
  value: string | undefined,
  options: { unlessSet?: boolean } = {},
): void {
  if (options.unlessSet && process.env[name] !== undefined) return;
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
