import type { z } from "zod";
import { jobConfigSchemas } from "./index";
import { rewardFunctions, rewardTermInputSchema } from "./rewards";

/** A field's type, default and bounds as words, read from its zod schema. */
export function describeField(schema: z.ZodType): {
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
  if (def.type === "union")
    type = (def.options as z.ZodType[])
      .map((option) =>
        option.def.type === "literal"
          ? ((option.def as unknown as { values: unknown[] }).values ?? [])
              .map((v) => JSON.stringify(v))
              .join(" \\| ")
          : option.def.type,
      )
      .join(" \\| ");
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
      ...fieldRows("", schema.shape as Record<string, z.ZodType>),
      "",
    );
  }
  lines.push(
    "## Reward functions",
    "",
    "`rewards` (optimised) and `evaluation` (logged only) list terms of this shape. `function` is a built-in below",
    "or your own `{ module, export }` (see [Reward functions](../reward-functions.md)); unknown keys are refused.",
    "",
    "| field | type | default | bounds | meaning |",
    "|---|---|---|---|---|",
    ...fieldRows("", rewardTermInputSchema.shape as Record<string, z.ZodType>),
    "",
  );
  for (const [name, { description, params }] of Object.entries(rewardFunctions)) {
    const shape = params.shape as Record<string, z.ZodType>;
    lines.push(`### \`${name}\``, "", description, "");
    if (Object.keys(shape).length === 0) lines.push("No parameters.", "");
    else
      lines.push(
        "| param | type | default | bounds | meaning |",
        "|---|---|---|---|---|",
        ...fieldRows("", shape),
        "",
      );
  }
  return lines.join("\n");
}

/** One table row per field, nested objects' fields after them as `parent.child`. */
function fieldRows(prefix: string, shape: Record<string, z.ZodType>): string[] {
  return Object.entries(shape).flatMap(([field, fieldSchema]) => {
    const f = describeField(fieldSchema);
    const type = f.required ? `${f.type} (required)` : f.type;
    const description = (fieldSchema.description ?? "").replace(/\|/g, "\\|");
    const name = `${prefix}${field}`;
    const inner = objectShape(fieldSchema);
    return [
      `| \`${name}\` | ${type} | ${f.defaultValue ? `\`${f.defaultValue}\`` : ""} | ${f.bounds} | ${description} |`,
      ...(inner ? fieldRows(`${name}.`, inner) : []),
    ];
  });
}
