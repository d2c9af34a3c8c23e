/**
 * The launch form, read from the job's zod schema (the one the CLI and the worker validate with): each
 * field's type, doc (`.describe()`), default and bounds. Nothing about a field is written twice — the form
 * shows what the schema says and validates with the schema itself.
 */
import {
  type BuiltinRewardName,
  builtinRewardNames,
  inputRefOf,
  type JobKind,
  jobConfigSchemas,
  rewardFunctions,
  rewardTermInputSchema,
  rewardTermSchema,
  userRewardFunctionSchema,
} from "@rlhf/core/configs";
import type { DatasetKind, RunKind } from "@rlhf/core/schema";
import type { z } from "zod";

interface Base {
  /** Dotted path in the config, e.g. `model.nEmbd`. */
  path: string;
  name: string;
  description: string;
  /** The schema's default (JSON value), when it has one. */
  defaultValue?: unknown;
  /** Neither a default nor optional: the form must fill it. */
  required: boolean;
}

export type FieldSpec =
  | (Base & {
      type: "number";
      integer: boolean;
      min?: { value: number; inclusive: boolean };
      max?: { value: number; inclusive: boolean };
      multipleOf?: number;
    })
  | (Base & {
      type: "string";
      /** A checkpoint reference (`run:<id>` or a directory): the form offers runs and checkpoints. */
      checkpoint: boolean;
      /** For a checkpoint: the kinds of run that fit it, best first (listed on top). */
      prefer: readonly RunKind[];
      /** The name of a dataset of this kind: the form offers the datasets of that kind. */
      dataset?: DatasetKind;
      minLength?: number;
      pattern?: string;
    })
  | (Base & { type: "boolean" })
  | (Base & { type: "enum"; options: string[] })
  | (Base & { type: "string-list"; minItems?: number; dataset?: DatasetKind })
  /** A list of reward functions (`rewards`, `evaluation`): terms picked from the registry or a module. */
  | (Base & { type: "reward-terms"; minItems?: number })
  /** Any other list of objects, edited as JSON and validated by the schema. */
  | (Base & { type: "json" })
  | (Base & { type: "object"; fields: FieldSpec[] });

type AnyDef = Record<string, unknown> & { type: string };
type AnySchema = z.ZodType & { def: AnyDef; description?: string };
interface CheckDef {
  check: string;
  value?: number;
  inclusive?: boolean;
  format?: string;
  minimum?: number;
  pattern?: RegExp;
}

function checksOf(schema: AnySchema): CheckDef[] {
  return ((schema.def.checks as { _zod: { def: CheckDef } }[] | undefined) ?? []).map((c) => c._zod.def);
}

/** The field specs of one job kind, in schema order. */
export function configFields(kind: JobKind): FieldSpec[] {
  return objectFields(jobConfigSchemas[kind] as unknown as AnySchema, "");
}

function objectFields(schema: AnySchema, prefix: string): FieldSpec[] {
  const shape = schema.def.shape as Record<string, AnySchema>;
  return Object.entries(shape).map(([name, field]) =>
    describe(field, prefix ? `${prefix}.${name}` : name, name),
  );
}

function describe(field: AnySchema, path: string, name: string): FieldSpec {
  const description = field.description ?? "";
  let current = field;
  let defaultValue: unknown;
  let hasDefault = false;
  let optional = false;
  for (;;) {
    const def = current.def;
    if (def.type === "default") {
      hasDefault = true;
      defaultValue =
        typeof def.defaultValue === "function" ? (def.defaultValue as () => unknown)() : def.defaultValue;
    } else if (def.type === "optional" || def.type === "nullable") optional = true;
    else break;
    current = def.innerType as AnySchema;
  }
  // What the field names (a dataset, a checkpoint), as its schema says (core's configs/refs-meta.ts).
  const ref = inputRefOf(field);
  const dataset = ref?.dataset ? { dataset: ref.dataset } : {};
  const base: Base = {
    path,
    name,
    description: description || current.description || "",
    required: !hasDefault && !optional,
    ...(hasDefault ? { defaultValue } : {}),
  };
  const checks = checksOf(current);
  switch (current.def.type) {
    case "number": {
      const spec: FieldSpec = { ...base, type: "number", integer: false };
      for (const c of checks) {
        if (c.check === "number_format" && c.format === "safeint") spec.integer = true;
        if (c.check === "greater_than") spec.min = { value: c.value!, inclusive: !!c.inclusive };
        if (c.check === "less_than") spec.max = { value: c.value!, inclusive: !!c.inclusive };
        if (c.check === "multiple_of") spec.multipleOf = c.value;
      }
      return spec;
    }
    case "string": {
      const checkpoint = { checkpoint: ref?.checkpoint !== undefined, prefer: ref?.checkpoint ?? [] };
      const spec: FieldSpec = { ...base, type: "string", ...checkpoint, ...dataset };
      for (const c of checks) {
        if (c.check === "min_length") spec.minLength = c.minimum;
        if (c.check === "string_format" && c.pattern) spec.pattern = c.pattern.source;
      }
      return spec;
    }
    case "boolean":
      return { ...base, type: "boolean" };
    case "enum":
      return { ...base, type: "enum", options: Object.values(current.def.entries as Record<string, string>) };
    case "array": {
      const element = current.def.element as AnySchema;
      const minItems = checksOf(current).find((c) => c.check === "min_length")?.minimum;
      const min = minItems !== undefined ? { minItems } : {};
      if ((element as unknown) === rewardTermSchema) return { ...base, type: "reward-terms", ...min };
      if (element.def.type !== "string") return { ...base, type: "json" };
      return { ...base, type: "string-list", ...min, ...dataset };
    }
    case "object":
      return { ...base, type: "object", fields: objectFields(current, path) };
    case "record":
      return { ...base, type: "json" };
    case "union": {
      // A number or a word (workers: "auto" or a count): a number input, which passes a typed word through.
      const options = current.def.options as AnySchema[];
      const number = options.find((o) => o.def.type === "number");
      if (number && options.every((o) => o === number || o.def.type === "literal"))
        return { ...describe(number, path, name), ...base };
      throw new Error(`${path}: no form input for this zod union`);
    }
    default:
      throw new Error(`${path}: no form input for a zod ${current.def.type}`);
  }
}

/** A built-in reward function of the registry, with its parameters as fields (paths `params.<name>`). */
export interface RewardChoice {
  name: BuiltinRewardName;
  description: string;
  params: FieldSpec[];
}

/**
 * What the reward picker offers, all read from the registry and the term's schema (paths relative to one
 * term): the built-ins with their parameters, the fields of "your own module" (`function.module`,
 * `function.export`) and the term's own settings (weight, normalize, name).
 */
export function rewardTermForm(): { builtins: RewardChoice[]; module: FieldSpec[]; settings: FieldSpec[] } {
  const shape = (rewardTermInputSchema as unknown as AnySchema).def.shape as Record<string, AnySchema>;
  return {
    builtins: builtinRewardNames.map((name) => ({
      name,
      description: rewardFunctions[name].description,
      params: objectFields(rewardFunctions[name].params as unknown as AnySchema, "params"),
    })),
    // A module's params are its own (passed in extra.params): a JSON object.
    module: [
      ...objectFields(userRewardFunctionSchema as unknown as AnySchema, "function"),
      describe(shape.params!, "params", "params"),
    ],
    settings: Object.entries(shape)
      .filter(([name]) => name !== "function" && name !== "params")
      .map(([name, field]) => describe(field, name, name)),
  };
}

/** The issues of a user module's `{ module, export }` by path in the term (the union's own issue names neither). */
export function moduleIssues(fn: unknown): ConfigIssue[] {
  const result = userRewardFunctionSchema.safeParse(fn ?? {});
  if (result.success) return [];
  return result.error.issues.map((i) => ({ path: ["function", ...i.path].join("."), message: i.message }));
}

/** The words of `describeBounds`, in the reader's language (English by default). */
export interface BoundsWords {
  integer: string;
  multipleOf: (n: number) => string;
}

const ENGLISH_BOUNDS: BoundsWords = { integer: "integer", multipleOf: (n) => `multiple of ${n}` };

/** "≥ 1", "> 0 and < 1", "multiple of 8": the bounds of a number field as words. */
export function describeBounds(spec: FieldSpec, words: BoundsWords = ENGLISH_BOUNDS): string {
  if (spec.type !== "number") return "";
  const parts: string[] = [];
  if (spec.integer) parts.push(words.integer);
  if (spec.min) parts.push(`${spec.min.inclusive ? "≥" : ">"} ${spec.min.value}`);
  if (spec.max) parts.push(`${spec.max.inclusive ? "≤" : "<"} ${spec.max.value}`);
  if (spec.multipleOf) parts.push(words.multipleOf(spec.multipleOf));
  return parts.join(", ");
}

/** Every leaf field, depth first (objects' fields in place of the object). */
export function leafFields(fields: FieldSpec[]): FieldSpec[] {
  return fields.flatMap((f) => (f.type === "object" ? leafFields(f.fields) : [f]));
}

/** The value at a dotted path. */
export function getPath(value: unknown, path: string): unknown {
  let current = value;
  for (const part of path.split(".")) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** A copy of `value` with `path` set (or removed, for undefined); empty objects are dropped. */
export function setPath(
  value: Record<string, unknown>,
  path: string,
  next: unknown,
): Record<string, unknown> {
  const [head, ...rest] = path.split(".");
  const copy = { ...value };
  if (rest.length === 0) {
    if (next === undefined) delete copy[head!];
    else copy[head!] = next;
    return copy;
  }
  const child = copy[head!];
  const updated = setPath(
    child && typeof child === "object" ? (child as Record<string, unknown>) : {},
    rest.join("."),
    next,
  );
  if (Object.keys(updated).length === 0) delete copy[head!];
  else copy[head!] = updated;
  return copy;
}

export interface ConfigIssue {
  path: string;
  message: string;
}

/** Validate a config with its kind's schema: the issues by dotted path (empty when valid). */
export function validateConfig(kind: JobKind, config: unknown): ConfigIssue[] {
  const result = jobConfigSchemas[kind].safeParse(config ?? {});
  if (result.success) return [];
  return result.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message }));
}
