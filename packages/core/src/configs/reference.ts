import type { z } from "zod";
import { jobConfigSchemas } from "./index";

/** A field's type, default and bounds as words, read from its zod schema. */
function describeField(schema: z.ZodType): {
  type: string;
  defaultValue: string;
  bounds: string;
  required: boolean;
} {
  let current = schema as z.ZodType & { def: Record<string, unknown> & { type: string } };
  let defaultValue = "";
  let required = true;
  for (;;) {
    const def = current.def;
    if (def.type === "default") {
      const value =
        typeof def.defaultValue === "function" ? (def.defaultValue as () => unknown)() : def.defaultValue;
      defaultValue = JSON.stringify(value);
      required = false;
    } else if (def.type === "optional" || def.type === "nullable") required = false;
    else break;
    current = def.innerType as typeof current;
  }
  const def = current.def;
  let type: string = def.type;
  const bounds: string[] = [];
  if (def.type === "enum")
    type = Object.values(def.entries as Record<string, string>)
      .map((v) => `"${v}"`)
      .join(" \\| ");
  if (def.type === "array") type = "array";
  for (const check of (def.checks as { _zod: { def: Record<string, unknown> } }[] | undefined) ?? []) {
    const c = check._zod.def;
    if (c.check === "greater_than") bounds.push(`${c.inclusive ? "≥" : ">"} ${c.value}`);
    if (c.check === "less_than") bounds.push(`${c.inclusive ? "≤" : "<"} ${c.value}`);
    if (c.check === "number_format" && c.format === "safeint") type = "integer";
    if (c.check === "multiple_of") bounds.push(`multiple of ${c.value}`);
    if (c.check === "min_length") bounds.push(`at least ${c.minimum} long`);
  }
  return { type, defaultValue, bounds: bounds.join(", "), required: required && defaultValue === "" };
}

/** The fields of an object schema under its defaults/optionals, if it is one. */
function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  let current = schema as z.ZodType & { def: Record<string, unknown> & { type: string } };
  while (["default", "optional", "nullable"].includes(current.def.type))
    current = current.def.innerType as typeof current;
  return current.def.type === "object" ? (current.def.shape as Record<string, z.ZodType>) : undefined;
}

/** docs/reference/configs.md, generated from the schemas so it cannot drift from them. */
export function renderConfigReference(): string {
  const lines = [
    "# Job configs",
    "",
    "Generated from the zod schemas in `packages/core/src/configs` by `pnpm docs:configs`; a test fails when",
    "this page and the schemas disagree. The CLI (`rlhf train <kind>`, `rlhf launch <kind>`), the worker and the",
    "dashboard's launch form all validate with the same schemas. A checkpoint reference is a checkpoint",
    "directory or `run:<run id or name>` (that run's final, else latest, checkpoint).",
    "",
  ];
  for (const [kind, schema] of Object.entries(jobConfigSchemas)) {
    lines.push(
      `## \`${kind}\``,
      "",
      schema.description ?? "",
      "",
      "| field | type | default | bounds | meaning |",
      "|---|---|---|---|---|",
    );
    const rows = (prefix: string, shape: Record<string, z.ZodType>) => {
      for (const [field, fieldSchema] of Object.entries(shape)) {
        const f = describeField(fieldSchema);
        const type = f.required ? `${f.type} (required)` : f.type;
        const description = (fieldSchema.description ?? "").replace(/\|/g, "\\|");
        const name = `${prefix}${field}`;
        lines.push(
          `| \`${name}\` | ${type} | ${f.defaultValue ? `\`${f.defaultValue}\`` : ""} | ${f.bounds} | ${description} |`,
        );
        const inner = objectShape(fieldSchema);
        if (inner) rows(`${name}.`, inner);
      }
    };
    rows("", schema.shape as Record<string, z.ZodType>);
    lines.push("");
  }
  return lines.join("\n");
}
