/**
 * The OpenAI API as this server speaks it: request schemas (zod), the error shape, and what a parse
 * failure turns into — a 400 whose `param` names the field, as OpenAI's own errors do.
 */
import { z } from "zod";

/** An error the client sees as `{"error": {message, type, param, code}}` with this HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type = status >= 500 ? "server_error" : "invalid_request_error",
  ) {
    super(message);
    this.name = "ApiError";
  }

  toJSON() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** A field the server does not implement: absent, null, false or empty is fine; anything else is a 400. */
const unsupported = z
  .unknown()
  .refine(
    (v) => v === undefined || v === null || v === false || (Array.isArray(v) && v.length === 0),
    "is not supported by this server",
  )
  .optional();

const stop = z
  .union([z.string(), z.array(z.string()).max(4)], {
    error: "expected a string or an array of at most 4 strings",
  })
  .nullish();

/** Fields that completions and chat completions share, with OpenAI's ranges. */
const samplingFields = {
  model: z.string().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  n: z.number().int().min(1).max(16).nullish(),
  stop,
  seed: z.number().int().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  logit_bias: unsupported,
  logprobs: unsupported,
  tools: unsupported,
  functions: unsupported,
};

export const completionRequestSchema = z.object({
  ...samplingFields,
  prompt: z.union([z.string(), z.array(z.string()).min(1)], {
    error: "expected a string or a non-empty array of strings (token arrays are not supported)",
  }),
  echo: unsupported,
  suffix: unsupported,
  best_of: z.literal(1, { error: "only best_of 1 is supported" }).nullish(),
});

const textPart = z.object({ type: z.literal("text"), text: z.string() });

export const chatMessageSchema = z.object({
  role: z.enum(["system", "developer", "user", "assistant"]),
  content: z.union([z.string(), z.array(textPart)], {
    error: "expected a string or an array of text parts",
  }),
  name: z.string().nullish(),
});

export const chatCompletionRequestSchema = z.object({
  ...samplingFields,
  messages: z.array(chatMessageSchema).min(1),
  max_completion_tokens: z.number().int().min(1).nullish(),
  top_logprobs: unsupported,
});

export type CompletionRequest = z.infer<typeof completionRequestSchema>;
export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;
export type ChatMessage = z.infer<typeof chatMessageSchema>;
export type FinishReason = "stop" | "length";

/** `messages[0].content` from zod's path, as OpenAI writes `param`. */
export function paramName(path: readonly PropertyKey[]): string {
  return path
    .map((key, i) => (typeof key === "number" ? `[${key}]` : i === 0 ? String(key) : `.${String(key)}`))
    .join("");
}

/** Validate a request body; the first problem becomes a 400 naming its field. */
export function parseRequest<T>(schema: z.ZodType<T>, body: unknown): T {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ApiError(400, "the request body must be a JSON object", null, "invalid_json");
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const param = paramName(issue.path);
  const given = issue.path.reduce<unknown>(
    (value, key) =>
      value && typeof value === "object" ? (value as Record<PropertyKey, unknown>)[key] : undefined,
    body,
  );
  const message = given === undefined ? `'${param}' is required` : `'${param}': ${issue.message}`;
  throw new ApiError(400, message, param || null, "invalid_value");
}

/** The stop strings of a request, as a list (empty strings dropped: they would match everywhere). */
export function stopList(value: string | string[] | null | undefined): string[] {
  if (value === null || value === undefined) return [];
  return [value].flat().filter((s) => s.length > 0);
}
