import path from "node:path";
import { desc, eq } from "drizzle-orm";
import type { Database, Db } from "../db/open";
import { checkpoints, runs } from "../db/schema";
import { NUL_PROBLEM } from "../nul";
import { didYouMean } from "./suggest";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** Longest run name. */
export const RUN_NAME_MAX = 200;

/**
 * Why `name` cannot name a run, or undefined when it can. A name that parses as a UUID is refused: a
 * reference that is a UUID means a run id, so such a name could never be referred to, and an impostor
 * named after another run's id must not stand in for it.
 */
export function runNameProblem(name: string): string | undefined {
  if (name.trim() === "") return "must not be empty";
  if (name.length > RUN_NAME_MAX) return `at most ${RUN_NAME_MAX} characters (got ${name.length})`;
  if (name.includes("\u0000")) return NUL_PROBLEM;
  if (isUuid(name.trim()) || isUuid(name.trim().replace(/^run:/, "")))
    return `"${name.trim()}" is a UUID, which is how runs are referred to by id; choose a name that is not one`;
  return undefined;
}

/** A run by id (when the reference is a UUID: ids only) or else by name (the newest of that name); `run:` prefix optional. */
export async function findRun(db: Db, ref: string) {
  const key = ref.startsWith("run:") ? ref.slice(4) : ref;
  const [run] = await db
    .select()
    .from(runs)
    .where(isUuid(key) ? eq(runs.id, key) : eq(runs.name, key))
    .orderBy(desc(runs.createdAt))
    .limit(1);
  return run;
}

export type RunRecord = typeof runs.$inferSelect;

/** Like findRun, but an error naming the reference when there is no such run. */
export async function getRun(db: Db, ref: string): Promise<RunRecord> {
  const run = await findRun(db, ref);
  if (!run) throw new RunNotFoundError(ref, await didYouMean(db, ref));
  return run;
}

export class RunNotFoundError extends Error {
  override name = "RunNotFoundError";
  /** `hint`: " (did you mean …?)" or "". */
  constructor(
    readonly ref: string,
    hint = "",
  ) {
    super(`no run with id or name "${ref}"${hint}`);
  }
}

/**
 * The checkpoint a `run:<id or name>` ref names — the run's final (else latest) one, or the one at `step` —
 * or an error saying what is missing. Any other ref is a directory (made absolute). The run is found as
 * every other reference is (`findRun`).
 */
export async function resolveCheckpointRef(database: Database, ref: string, step?: number): Promise<string> {
  if (!ref.startsWith("run:")) return path.resolve(ref);
  const key = ref.slice(4);
  const run = await findRun(database.db, key);
  if (!run)
    throw new Error(`${ref}: no run with that id or name${await didYouMean(database.db, key, "run:")}`);
  const saved = await database.db
    .select()
    .from(checkpoints)
    .where(eq(checkpoints.runId, run.id))
    .orderBy(desc(checkpoints.isFinal), desc(checkpoints.step));
  if (saved.length === 0) throw new Error(`${ref}: run ${run.name} (${run.status}) has no checkpoint yet`);
  if (step === undefined) return saved[0]!.path;
  const atStep = saved.find((c) => c.step === step);
  if (!atStep) {
    const steps = saved.map((c) => c.step).sort((a, b) => a - b);
    throw new Error(
      `${ref}: run ${run.name} has no checkpoint at step ${step} (it has steps ${steps.join(", ")})`,
    );
  }
  return atStep.path;
}

/** Every `run:<ref>` string in a config, with the dotted path of the field that holds it. */
export function runReferences(config: unknown, path: string[] = []): { path: string; ref: string }[] {
  if (typeof config === "string") {
    return config.startsWith("run:") ? [{ path: path.join("."), ref: config.slice(4) }] : [];
  }
  if (Array.isArray(config)) return config.flatMap((item, i) => runReferences(item, [...path, String(i)]));
  if (config && typeof config === "object") {
    return Object.entries(config).flatMap(([key, value]) => runReferences(value, [...path, key]));
  }
  return [];
}

/** A copy of `config` with the string at each dotted path replaced. */
export function replaceAt(config: unknown, replacements: Map<string, string>, path: string[] = []): unknown {
  const here = path.join(".");
  if (typeof config === "string") return replacements.get(here) ?? config;
  if (Array.isArray(config))
    return config.map((item, i) => replaceAt(item, replacements, [...path, String(i)]));
  if (config && typeof config === "object") {
    return Object.fromEntries(
      Object.entries(config).map(([key, value]) => [key, replaceAt(value, replacements, [...path, key])]),
    );
  }
  return config;
}
