import { z } from "zod";
import { NUL_PROBLEM, nulPath } from "../nul";
import { expectationText, type ServerText } from "../server-text";

/** Server messages as codes (for pages in other languages): see server-text.ts. */
export { expectationText, messageText, type ServerText } from "../server-text";

/**
 * File formats the workbench reads and writes (JSONL, one object per line). Importers validate every
 * line with these schemas and import nothing when one line is bad (see `parseJsonl`).
 */

/**
 * A dataset's name: 1 to 100 letters and digits of any script (电影评论-2026, données, हिंदी: letters, their
 * combining marks, digits) and `. _ - : @`; no spaces, slashes, control characters or other punctuation, and
 * not only dots (a path: `.`, `..`). It goes into job configs, URLs (encoded) and export file names.
 * Counted in characters (code points), not bytes.
 */
export const DATASET_NAME_PATTERN = /^(?!\.+$)[\p{L}\p{M}\p{N}_.:@-]{1,100}$/u;

/** The rule for a dataset's name, as its refusals say it (server-text.ts maps it to the page's language). */
export const DATASET_NAME_RULE = "use 1 to 100 letters, digits and . _ - : @ (no spaces)";

/**
 * Why `name` cannot be a dataset's name — the rule, then what is wrong with this value
 * (`use 1 to 100 … (no spaces); "a/b" has a "/"`) — or undefined when it can. Callers put the field in front.
 */
export function datasetNameProblem(name: string): string | undefined {
  if (DATASET_NAME_PATTERN.test(name)) return undefined;
  const quoted = JSON.stringify(name);
  const length = [...name].length;
  const bad = [...name].find((c) => !/[\p{L}\p{M}\p{N}_.:@-]/u.test(c));
  let why: string;
  if (length === 0) why = "it is empty";
  else if (bad === undefined && length > 100) why = `${quoted} is ${length} characters`;
  else if (bad === undefined) why = `${quoted} is a path, not a name`;
  else if (/\s/u.test(bad)) why = `${quoted} has a space`;
  else if (/\p{Cc}|\p{Cf}/u.test(bad))
    why = `${quoted} has a control character (U+${(bad.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")})`;
  else why = `${quoted} has ${JSON.stringify(bad)}`;
  return `${DATASET_NAME_RULE}; ${why}`;
}

/** A non-empty string, with errors a person can act on ("must be a string", "must not be empty"). */
export const nonEmptyString = (what = "a string") =>
  z
    .string({ error: `must be ${what}` })
    .min(1, "must not be empty")
    // PostgreSQL's text type cannot hold U+0000; JSON can ("\u0000"), so say so here, not at insert time.
    .refine((s) => !s.includes("\u0000"), NUL_PROBLEM);

/** A chat message as TRL's conversational datasets write it: `{"role", "content"}`. */
export const chatMessageSchema = z.object({
  role: z.enum(["system", "user", "assistant"], { error: "must be system, user or assistant" }),
  content: z.string({ error: "must be a string" }),
});
export type ChatMessage = z.infer<typeof chatMessageSchema>;
export const chatMessagesSchema = z.array(chatMessageSchema, {
  error: "must be a string or a list of messages",
});

/** A string, or a non-empty list of messages (TRL's conversational form of the same field). */
export const textOrMessagesSchema = z.union([nonEmptyString(), chatMessagesSchema.min(1)], {
  error: "must be a string or a list of messages",
});

/** A conversational field as one text: one message is its content; several are `role: content` paragraphs. */
export function messagesText(value: string | ChatMessage[]): string {
  if (typeof value === "string") return value;
  if (value.length === 1) return value[0]!.content;
  return value.map((m) => `${m.role}: ${m.content}`).join("\n\n");
}

/**
 * A schema that picks the schema of each value by its shape, and reports that schema's issues as its own
 * (a plain `z.union` reports "invalid input" without saying which field is wrong).
 */
function byShape<T>(pick: (value: Record<string, unknown>) => z.ZodType<T>) {
  return z.unknown().transform((value, ctx): T => {
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      ctx.addIssue({ code: "custom", message: "must be a JSON object" });
      return z.NEVER;
    }
    const result = pick(value as Record<string, unknown>).safeParse(value);
    if (result.success) return result.data;
    for (const issue of result.error.issues)
      ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
    return z.NEVER;
  });
}

/** A corpus line: `{"text": "..."}` (TRL's language-modelling rows). */
export const textLineSchema = z.object({ text: nonEmptyString() });

const sftResponseLine = z.object({ prompt: nonEmptyString(), response: nonEmptyString() });
const sftCompletionLine = z
  .object({ prompt: textOrMessagesSchema, completion: textOrMessagesSchema })
  .transform((line) => ({ prompt: messagesText(line.prompt), response: messagesText(line.completion) }));
const sftMessagesLine = z
  .object({
    messages: chatMessagesSchema
      .min(2, "needs at least 2 messages: a prompt and the assistant's answer")
      .superRefine((messages, ctx) => {
        const last = messages.at(-1);
        if (last && last.role !== "assistant")
          ctx.addIssue({
            code: "custom",
            path: [messages.length - 1, "role"],
            message: "the last message must be the assistant's (the response to learn)",
          });
        if (last && last.content.trim() === "")
          ctx.addIssue({
            code: "custom",
            path: [messages.length - 1, "content"],
            message: "must not be empty",
          });
        if (messages.some((m) => m.content.includes("\u0000")))
          ctx.addIssue({
            code: "custom",
            message: NUL_PROBLEM,
          });
      }),
  })
  .transform((line) => ({
    prompt: messagesText(line.messages.slice(0, -1)),
    response: line.messages.at(-1)!.content,
  }));

/**
 * An SFT line, in any of three shapes, always read as `{prompt, response}`: ours `{"prompt", "response"}`;
 * TRL's prompt-completion `{"prompt", "completion"}` (each a string or a list of messages); TRL's
 * conversational `{"messages": [...]}`, whose last message (the assistant's) is the response and the
 * messages before it the prompt.
 */
export const sftLineSchema = byShape((line) =>
  "messages" in line ? sftMessagesLine : "completion" in line ? sftCompletionLine : sftResponseLine,
);

/**
 * A prompt line for PPO's rollouts and generation: `{"prompt": "..."}`, the prompt a string or a list of
 * messages (TRL's prompt-only rows). Other fields are ignored, so a prompt-completion file serves too.
 */
export const promptLineSchema = z
  .object({ prompt: textOrMessagesSchema })
  .transform((line) => ({ prompt: messagesText(line.prompt) }));

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

/** TRL's preference format, plain: `{"prompt", "chosen", "rejected"}`. */
export const trlPreferenceSchema = z.object({
  prompt: z.string(),
  chosen: z.string(),
  rejected: z.string(),
});

/** TRL's preference format, conversational: messages lists. */
export const trlConversationalPreferenceSchema = z.object({
  prompt: z.array(chatMessageSchema),
  chosen: z.array(chatMessageSchema),
  rejected: z.array(chatMessageSchema),
});

export type TextLine = z.infer<typeof textLineSchema>;
export type SftLine = z.output<typeof sftLineSchema>;
export type PromptLine = z.output<typeof promptLineSchema>;
export type ComparisonTaskLine = z.infer<typeof comparisonTaskLineSchema>;
export type TrlPreference = z.infer<typeof trlPreferenceSchema>;

/** A file refused line by line. `message` is the English list; `text` the same lines as codes (server-text.ts). */
export class ImportError extends Error {
  readonly text: ServerText;
  constructor(readonly problems: { line: number; field: string; message: string }[]) {
    super(
      `nothing was imported; fix these lines:\n${problems
        .slice(0, 20)
        .map((p) => `  line ${p.line}: ${p.field}: ${p.message}`)
        .join("\n")}${problems.length > 20 ? `\n  … and ${problems.length - 20} more` : ""}`,
    );
    this.name = "ImportError";
    const lines: ServerText[] = problems.slice(0, 20).map((p) => ({
      code: "importLine",
      params: { line: p.line, field: p.field, expected: expectationText(p.message) },
    }));
    if (problems.length > 20) lines.push({ code: "importMore", params: { count: problems.length - 20 } });
    this.text = { code: "importFailed", lines };
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
    // PostgreSQL text cannot hold U+0000 ("\u0000" in JSON): refused here, with the field, not by an insert.
    const nul = nulPath(value);
    if (nul !== undefined) {
      problems.push({ line: i + 1, field: nul, message: NUL_PROBLEM });
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
