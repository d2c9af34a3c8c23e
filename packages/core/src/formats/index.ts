import { z } from "zod";

/**
 * File formats the workbench reads and writes (JSONL, one object per line). Importers validate every
 * line with these schemas and import nothing when one line is bad (see `parseJsonl`).
 */

/** A corpus line: `{"text": "..."}`. */
export const textLineSchema = z.object({ text: z.string().min(1, "must not be empty") });

/** An SFT line: `{"prompt": "...", "response": "..."}`. */
export const sftLineSchema = z.object({
  prompt: z.string().min(1, "must not be empty"),
  response: z.string().min(1, "must not be empty"),
});

/** A prompt line for generation or labeling: `{"prompt": "..."}`. */
export const promptLineSchema = z.object({ prompt: z.string().min(1, "must not be empty") });

/** A comparison task to import: a prompt with 2..9 responses, each with the model (source) that wrote it. */
export const comparisonTaskLineSchema = z.object({
  prompt: z.string().min(1, "must not be empty"),
  responses: z
    .array(
      z.union([
        z.string().min(1, "must not be empty"),
        z.object({
          text: z.string().min(1, "must not be empty"),
          source: z.string().min(1).default("imported"),
        }),
      ]),
    )
    .min(2, "needs at least 2 responses to compare")
    .max(9, "at most 9 responses per task"),
});

const messageSchema = z.object({ role: z.enum(["system", "user", "assistant"]), content: z.string() });

/** TRL's preference format, plain: `{"prompt", "chosen", "rejected"}`. */
export const trlPreferenceSchema = z.object({
  prompt: z.string(),
  chosen: z.string(),
  rejected: z.string(),
});

/** TRL's preference format, conversational: messages lists. */
export const trlConversationalPreferenceSchema = z.object({
  prompt: z.array(messageSchema),
  chosen: z.array(messageSchema),
  rejected: z.array(messageSchema),
});

export type TextLine = z.infer<typeof textLineSchema>;
export type SftLine = z.infer<typeof sftLineSchema>;
export type ComparisonTaskLine = z.infer<typeof comparisonTaskLineSchema>;
export type TrlPreference = z.infer<typeof trlPreferenceSchema>;

export class ImportError extends Error {
  constructor(readonly problems: { line: number; field: string; message: string }[]) {
    super(
      `nothing was imported; fix these lines:\n${problems
        .slice(0, 20)
        .map((p) => `  line ${p.line}: ${p.field}: ${p.message}`)
        .join("\n")}${problems.length > 20 ? `\n  … and ${problems.length - 20} more` : ""}`,
    );
    this.name = "ImportError";
  }
}

/**
 * Parse JSONL all-or-nothing: every line is checked; any bad line throws an ImportError that lists
 * "line N: field X: what was expected" and nothing is returned. Blank lines are ignored.
 */
export function parseJsonl<T extends z.ZodType>(text: string, schema: T): z.infer<T>[] {
  const rows: z.infer<T>[] = [];
  const problems: { line: number; field: string; message: string }[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    if (raw.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      problems.push({
        line: i + 1,
        field: "(line)",
        message: `not valid JSON (${(error as Error).message})`,
      });
      continue;
    }
    const result = schema.safeParse(value);
    if (result.success) rows.push(result.data);
    else
      for (const issue of result.error.issues)
        problems.push({ line: i + 1, field: issue.path.join(".") || "(line)", message: issue.message });
  }
  if (problems.length > 0) throw new ImportError(problems);
  return rows;
}
