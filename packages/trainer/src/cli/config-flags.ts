/**
 * Job configs on the command line: a JSON file (`--config`), then flags that override its fields.
 * Flags are derived from the zod schema in @rlhf/core (one `--kebab-name` per top-level scalar field,
 * `--set a.b=value` for anything, nested fields included), so the CLI never keeps a second copy of a field.
 */
import { type JobKind, jobConfigSchemas } from "@rlhf/core/configs";
import { type Command, Option } from "commander";
import type { z } from "zod";
import { cliValue, readJsonFile } from "./files";

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

const SCALARS = ["number", "string", "boolean", "enum", "literal"];

/** The schema's type once defaults and optionals are unwrapped: "number", "boolean", "string", "enum", ... */
function baseType(schema: z.ZodType): { type: string; schema: z.ZodType } {
  let current = schema as z.ZodType & { unwrap?: () => z.ZodType; def: { type: string } };
  while (
    current.def.type === "default" ||
    current.def.type === "optional" ||
    current.def.type === "nullable"
  ) {
    current = (current as unknown as { unwrap: () => typeof current }).unwrap();
  }
  // A union of scalars (`workers`: "auto" or a number) is one flag too; its value is parsed as a number
  // when it is one.
  const options = (current.def as { options?: { def: { type: string } }[] }).options;
  if (current.def.type === "union" && options?.every((o) => SCALARS.includes(o.def.type)))
    return { type: "scalar-union", schema: current };
  return { type: current.def.type, schema: current };
}

/** Add one option per top-level scalar field of `kind`'s schema. */
export function addConfigFlags(command: Command, kind: JobKind): Command {
  for (const [field, schema] of Object.entries(jobConfigSchemas[kind].shape)) {
    const { type } = baseType(schema as z.ZodType);
    if (!["number", "string", "boolean", "enum", "scalar-union"].includes(type)) continue;
    const description = (schema as z.ZodType).description ?? "";
    command.addOption(
      new Option(`--${kebab(field)} <${type === "boolean" ? "true|false" : "value"}>`, description),
    );
  }
  return command
    .option("--config <file>", "JSON file with the config (flags override it)")
    .option("--set <field=value...>", "set any field, nested ones with dots (e.g. --set model.nLayer=2)");
}

function parseValue(raw: string): unknown {
  if (raw === "true") return true;
  if (raw === "false") return false;
  if (raw !== "" && !Number.isNaN(Number(raw))) return Number(raw);
  if (raw.startsWith("[") || raw.startsWith("{")) {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) {
    if (typeof node[part] !== "object" || node[part] === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts.at(-1)!] = value;
}

/** The raw (not yet validated) config: file, then flags. Validation happens in parseJobConfig. */
export function configFromOptions(kind: JobKind, options: Record<string, unknown>): Record<string, unknown> {
  let config: Record<string, unknown> = {};
  if (typeof options.config === "string") config = readJsonFile(options.config) as Record<string, unknown>;
  for (const field of Object.keys(jobConfigSchemas[kind].shape)) {
    const camel = field; // commander stores --max-steps as maxSteps
    if (options[camel] !== undefined) {
      const { type } = baseType(
        jobConfigSchemas[kind].shape[
          field as keyof (typeof jobConfigSchemas)[typeof kind]["shape"]
        ] as z.ZodType,
      );
      config[field] =
        type === "enum"
          ? String(options[camel])
          : type === "string"
            ? cliValue(String(options[camel]))
            : parseValue(String(options[camel]));
    }
  }
  for (const assignment of (options.set as string[] | undefined) ?? []) {
    const eq = assignment.indexOf("=");
    if (eq <= 0) throw new Error(`--set ${assignment}: expected field=value`);
    setPath(config, assignment.slice(0, eq), parseValue(assignment.slice(eq + 1)));
  }
  return config;
}
