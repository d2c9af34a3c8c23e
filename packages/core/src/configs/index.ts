import type { z } from "zod";
import { unknownConfigKeys } from "./common";
import { dpoConfigSchema } from "./dpo";
import { generateConfigSchema } from "./generate";
import { grpoConfigSchema } from "./grpo";
import { ppoConfigSchema } from "./ppo";
import { pretrainConfigSchema } from "./pretrain";
import { rewardConfigSchema } from "./reward";
import { rlooConfigSchema } from "./rloo";
import { serveConfigSchema } from "./serve";
import { sftConfigSchema } from "./sft";

export * from "./common";
export * from "./dpo";
export * from "./generate";
export * from "./grpo";
export * from "./lora";
export * from "./ppo";
export * from "./pretrain";
export * from "./refs-meta";
export * from "./reward";
export * from "./rewards";
export * from "./rloo";
export * from "./serve";
export * from "./sft";

/** The job kinds a worker can run, each with the one schema the CLI, worker, dashboard and docs use. */
export const jobConfigSchemas = {
  pretrain: pretrainConfigSchema,
  sft: sftConfigSchema,
  reward: rewardConfigSchema,
  ppo: ppoConfigSchema,
  dpo: dpoConfigSchema,
  grpo: grpoConfigSchema,
  rloo: rlooConfigSchema,
  generate: generateConfigSchema,
  serve: serveConfigSchema,
} as const;

export type JobKind = keyof typeof jobConfigSchemas;
export type JobConfig<K extends JobKind> = z.infer<(typeof jobConfigSchemas)[K]>;

export class ConfigError extends Error {
  constructor(
    readonly kind: string,
    readonly issues: { path: string; message: string }[],
  ) {
    super(
      `invalid ${kind} config:\n${issues.map((i) => `  ${i.path || "(root)"}: ${i.message}`).join("\n")}`,
    );
    this.name = "ConfigError";
  }
}

/**
 * Validate a job config, filling defaults; throws a ConfigError naming each bad field. With `strict` (what
 * a person wrote: launches, `rlhf train`), an unknown key is an error naming the closest known one; a
 * config stored by an earlier launch is read without it, so a field retired since does not fail its run.
 */
export function parseJobConfig<K extends JobKind>(
  kind: K,
  input: unknown,
  options: { strict?: boolean } = {},
): JobConfig<K> {
  const schema = jobConfigSchemas[kind];
  if (!schema)
    throw new ConfigError(String(kind), [
      {
        path: "kind",
        message: `unknown job kind; expected one of ${Object.keys(jobConfigSchemas).join(", ")}`,
      },
    ]);
  if (options.strict) {
    const unknown = unknownConfigKeys(schema, input ?? {});
    if (unknown.length > 0) throw new ConfigError(kind, unknown);
  }
  const result = schema.safeParse(input ?? {});
  if (!result.success) {
    throw new ConfigError(
      kind,
      result.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message })),
    );
  }
  return result.data as JobConfig<K>;
}

export function isJobKind(kind: string): kind is JobKind {
  return Object.hasOwn(jobConfigSchemas, kind);
}
