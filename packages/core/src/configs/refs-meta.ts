/**
 * Fields that name something of the workbench carry what it is, so that nothing about a field is written
 * outside its schema: a dataset of a kind (the launch form offers the datasets of that kind), or a
 * checkpoint (the form offers runs, the kinds that fit listed first, best first). Read with `inputRefOf`.
 */
import { z } from "zod";
import type { DatasetKind, RunKind } from "../db/schema";
import { datasetNameProblem } from "../formats";
import { checkpointRef } from "./common";

export interface InputRef {
  /** The field names a dataset of this kind (a list field: each item). */
  dataset?: DatasetKind;
  /** The field is a checkpoint reference; runs of these kinds fit it, best first. */
  checkpoint?: readonly RunKind[];
}

/** Kept beside the schemas, not in zod's global registry, so JSON Schema output stays as it was. */
export const inputRefs = z.registry<InputRef>();

// Every checkpoint reference is one (clones made by `.describe()` inherit this), fitting no kind in particular.
inputRefs.add(checkpointRef, { checkpoint: [] });

/**
 * The name of a dataset of `kind` in the workbench. `creates`: the run creates the dataset when it is
 * missing (generate), so the name must be one a dataset can have (formats' datasetNameProblem, as the
 * imports check it); a reference to an existing dataset is looked up as written (a dataset an older release
 * named keeps working). A check, not a pattern: the JSON Schema stays as it was.
 */
export function datasetName(kind: DatasetKind, options: { creates?: boolean } = {}) {
  const name = z.string().min(1);
  const checked = options.creates
    ? name.superRefine((value, ctx) => {
        const problem = datasetNameProblem(value);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      })
    : name;
  return checked.register(inputRefs, { dataset: kind });
}

/** A checkpoint reference that runs of `kinds` fit, best first (`schema`: a described one to copy). */
export function checkpointFrom(kinds: readonly RunKind[], schema: typeof checkpointRef = checkpointRef) {
  return schema.clone().register(inputRefs, { checkpoint: kinds });
}

/** What a field names, looking through `.optional()`, `.default()`, `.nullable()` and, for a list, its items. */
export function inputRefOf(schema: z.ZodType): InputRef | undefined {
  let current = schema as z.ZodType & { def: { type: string; innerType?: z.ZodType; element?: z.ZodType } };
  for (;;) {
    const ref = inputRefs.get(current);
    if (ref) return ref;
    const { def } = current;
    if (def.type === "default" || def.type === "optional" || def.type === "nullable")
      current = def.innerType as never;
    else if (def.type === "array") current = def.element as never;
    else return undefined;
  }
}
