/**
 * Bad requests to `rlhf serve`, each with the answer it must get: OpenAI's error shape, the status, and the
 * field named in `param`. Sent by serve-probe.test.ts to a server over a tiny model; listed in
 * docs/reliability.md from this table.
 */
import type { Probe } from "@rlhf/core/testing/probes";

/** Served with maxChoices 16 and maxTokens 1024 (the defaults), a 64 KiB body cap and model "tiny-policy". */
const chat = (extra: Record<string, unknown>) => ({ messages: [{ role: "user", content: "hi" }], ...extra });
const completion = (extra: Record<string, unknown>) => ({ prompt: "Apples are", max_tokens: 2, ...extra });

/** A probe of /v1/completions or /v1/chat/completions that must be a 400 naming `param`. */
function invalid(
  kind: string,
  route: "completions" | "chat",
  body: unknown,
  param: string | null,
  says?: RegExp,
): Probe {
  return {
    kind,
    path: route === "chat" ? "/v1/chat/completions" : "/v1/completions",
    body,
    status: 400,
    says:
      says ?? (param === null ? /"param":null/ : new RegExp(`"param":"${param.replace(/[[\].]/g, "\\$&")}"`)),
    expect: param === null ? "invalid_request_error" : `invalid_request_error, param ${param}`,
  };
}

const samplingCases: [string, Record<string, unknown>, string][] = [
  ["n of 0", { n: 0 }, "n"],
  ["n of 17 (over OpenAI's 16)", { n: 17 }, "n"],
  ["n not an integer", { n: 1.5 }, "n"],
  ["n as a string", { n: "2" }, "n"],
  ["temperature below 0", { temperature: -0.1 }, "temperature"],
  ["temperature above 2", { temperature: 2.5 }, "temperature"],
  ["temperature as a string", { temperature: "hot" }, "temperature"],
  ["top_p of 0", { top_p: 0 }, "top_p"],
  ["top_p above 1", { top_p: 1.5 }, "top_p"],
  ["max_tokens of 0", { max_tokens: 0 }, "max_tokens"],
  ["max_tokens negative", { max_tokens: -5 }, "max_tokens"],
  ["max_tokens not an integer", { max_tokens: 2.5 }, "max_tokens"],
  ["max_tokens over the server's limit (1024)", { max_tokens: 5000 }, "max_tokens"],
  ["max_tokens of a billion", { max_tokens: 1e9 }, "max_tokens"],
  ["stop with 5 strings", { stop: ["a", "b", "c", "d", "e"] }, "stop"],
  ["stop as a number", { stop: 7 }, "stop"],
  ["seed not an integer", { seed: 1.5 }, "seed"],
  ["seed as a string", { seed: "x" }, "seed"],
  ["stream as a string", { stream: "yes" }, "stream"],
  ["stream_options not an object", { stream_options: "usage" }, "stream_options"],
  ["logprobs asked for", { logprobs: 5 }, "logprobs"],
  ["logit_bias given", { logit_bias: { "50256": -100 } }, "logit_bias"],
  ["tools given", { tools: [{ type: "function" }] }, "tools"],
  ["functions given", { functions: [{ name: "f" }] }, "functions"],
  ["model not a string", { model: 42 }, "model"],
];

const completionCases: Probe[] = [
  invalid("completions: no prompt", "completions", { max_tokens: 2 }, "prompt", /'prompt' is required/),
  invalid("completions: prompt a number", "completions", { prompt: 42 }, "prompt"),
  invalid("completions: prompt an empty array", "completions", { prompt: [] }, "prompt"),
  invalid("completions: prompt as token ids", "completions", { prompt: [1, 2, 3] }, "prompt"),
  invalid("completions: prompt an array of arrays", "completions", { prompt: [[1], [2]] }, "prompt"),
  invalid("completions: prompt null", "completions", { prompt: null }, "prompt"),
  invalid("completions: echo asked for", "completions", completion({ echo: true }), "echo"),
  invalid("completions: suffix given", "completions", completion({ suffix: "end" }), "suffix"),
  invalid("completions: best_of 2", "completions", completion({ best_of: 2 }), "best_of"),
  invalid(
    "completions: 17 prompts (over 16 completions per request)",
    "completions",
    { prompt: Array.from({ length: 17 }, (_, i) => `p${i}`), max_tokens: 1 },
    "prompt",
    /17 completions/,
  ),
  invalid(
    "completions: 3 prompts × n 6 (18 completions)",
    "completions",
    completion({ prompt: ["a", "b", "c"], n: 6 }),
    "n",
    /18 completions \(3 prompts × n 6\)/,
  ),
  invalid(
    "completions: 200 prompts × n 16 (the amplification the issue found)",
    "completions",
    completion({ prompt: Array(200).fill("x"), n: 16 }),
    "n",
    /too_many_completions/,
  ),
  invalid(
    "completions: max_tokens past the context",
    "completions",
    completion({ max_tokens: 500 }),
    "max_tokens",
    /maximum context length is 96/,
  ),
  invalid(
    "completions: a prompt longer than the context",
    "completions",
    { prompt: "word ".repeat(200) },
    "prompt",
    /maximum context length/,
  ),
  ...samplingCases.map(([kind, extra, param]) =>
    invalid(`completions: ${kind}`, "completions", completion(extra), param),
  ),
];

const chatCases: Probe[] = [
  invalid("chat: no messages", "chat", { max_tokens: 2 }, "messages", /'messages' is required/),
  invalid("chat: messages empty", "chat", { messages: [] }, "messages"),
  invalid("chat: messages not an array", "chat", { messages: "hi" }, "messages"),
  invalid("chat: a message without a role", "chat", { messages: [{ content: "hi" }] }, "messages[0].role"),
  invalid(
    "chat: an unknown role",
    "chat",
    { messages: [{ role: "robot", content: "hi" }] },
    "messages[0].role",
  ),
  invalid(
    "chat: content a number",
    "chat",
    { messages: [{ role: "user", content: 5 }] },
    "messages[0].content",
  ),
  invalid(
    "chat: an image content part",
    "chat",
    { messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }] },
    "messages[0].content",
  ),
  invalid(
    "chat: message name a number",
    "chat",
    { messages: [{ role: "user", content: "x", name: 3 }] },
    "messages[0].name",
  ),
  invalid(
    "chat: max_completion_tokens of 0",
    "chat",
    chat({ max_completion_tokens: 0 }),
    "max_completion_tokens",
  ),
  invalid(
    "chat: max_completion_tokens of a million",
    "chat",
    chat({ max_completion_tokens: 1_000_000 }),
    "max_completion_tokens",
  ),
  invalid("chat: top_logprobs asked for", "chat", chat({ top_logprobs: 3 }), "top_logprobs"),
  invalid("chat: n of 17", "chat", chat({ n: 17 }), "n"),
  ...samplingCases.map(([kind, extra, param]) => invalid(`chat: ${kind}`, "chat", chat(extra), param)),
];

const bodyCases: Probe[] = [
  invalid("a body that is not JSON", "completions", "{prompt: 'x'", null, /not valid JSON/),
  invalid("an empty body", "completions", "", null, /body is empty/),
  invalid("a JSON array body", "completions", "[1,2]", null, /must be a JSON object/),
  invalid("a JSON null body", "chat", "null", null, /must be a JSON object/),
  invalid("a JSON string body", "chat", '"hi"', null, /must be a JSON object/),
  {
    kind: "a body over the size cap (70 KiB > 64 KiB)",
    path: "/v1/completions",
    body: { prompt: "x".repeat(70 * 1024) },
    status: 413,
    says: /request_too_large/,
    expect: "request_too_large",
  },
  {
    kind: "a model the server does not serve",
    path: "/v1/completions",
    body: completion({ model: "gpt-4" }),
    status: 404,
    says: /model_not_found.*"param":"model"|"param":"model".*model_not_found/,
    expect: "model_not_found, param model",
  },
];

const routeCases: Probe[] = [
  {
    kind: "an unknown path",
    path: "/v1/embeddings",
    body: { input: "x" },
    status: 404,
    says: /unknown_url/,
    expect: "unknown_url",
  },
  { kind: "the root path", path: "/", status: 404, says: /unknown_url/, expect: "unknown_url" },
  { kind: "a path outside /v1", path: "/admin", status: 404, says: /unknown_url/, expect: "unknown_url" },
  {
    kind: "GET on /v1/completions",
    path: "/v1/completions",
    status: 405,
    says: /method_not_allowed/,
    header: ["allow", /POST/],
    expect: "method_not_allowed, Allow: POST",
  },
  {
    kind: "PUT on /v1/chat/completions",
    method: "PUT",
    path: "/v1/chat/completions",
    body: "{}",
    status: 405,
    says: /method_not_allowed/,
    expect: "method_not_allowed",
  },
  {
    kind: "DELETE on /v1/models",
    method: "DELETE",
    path: "/v1/models",
    status: 405,
    says: /method_not_allowed/,
    expect: "method_not_allowed",
  },
  {
    kind: "POST on /v1/models",
    path: "/v1/models",
    body: "{}",
    status: 405,
    says: /method_not_allowed/,
    expect: "method_not_allowed",
  },
  {
    kind: "an unknown model id",
    path: "/v1/models/gpt-4",
    status: 404,
    says: /model_not_found/,
    expect: "model_not_found",
  },
  {
    kind: "a model id that is a bad %-escape",
    path: "/v1/models/%E0%A4%A",
    status: 400,
    says: /"param":"model".*percent-encoding|percent-encoding.*"param":"model"/,
    expect: "invalid_value, param model",
  },
  {
    kind: "a model id of a lone %",
    path: "/v1/models/%",
    status: 400,
    says: /percent-encoding/,
    expect: "invalid_value, param model",
  },
  {
    kind: "a model id with %zz",
    path: "/v1/models/%zz",
    status: 400,
    says: /percent-encoding/,
    expect: "invalid_value, param model",
  },
  {
    kind: "an overlong UTF-8 escape",
    path: "/v1/models/%C0%AF",
    status: 400,
    says: /percent-encoding/,
    expect: "invalid_value, param model",
  },
  {
    kind: "a CORS preflight from a site not allowed",
    method: "OPTIONS",
    path: "/v1/chat/completions",
    headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    status: 204,
    header: ["access-control-allow-origin", null],
    expect: "no Access-Control-Allow-Origin (CORS is opt-in)",
  },
  {
    kind: "a request from another site's page",
    path: "/v1/models",
    headers: { origin: "https://evil.example" },
    status: 200,
    header: ["access-control-allow-origin", null],
    expect: "no Access-Control-Allow-Origin: the page cannot read the answer",
  },
];

export const serveProbes: Probe[] = [...completionCases, ...chatCases, ...bodyCases, ...routeCases];

/** Against a server started with an API key ("sk-probe-key-0123456789"). */
export const keyedServeProbes: Probe[] = [
  {
    kind: "no API key",
    path: "/v1/models",
    status: 401,
    says: /didn't provide an API key/,
    expect: "invalid_api_key",
  },
  {
    kind: "a wrong API key",
    path: "/v1/models",
    headers: { authorization: "Bearer nope" },
    status: 401,
    says: /invalid_api_key/,
    expect: "invalid_api_key",
  },
  {
    kind: "the key without Bearer",
    path: "/v1/models",
    headers: { authorization: "sk-probe-key-0123456789" },
    status: 401,
    says: /invalid_api_key/,
    expect: "invalid_api_key",
  },
  {
    kind: "the key with a different case of scheme",
    path: "/v1/completions",
    body: completion({}),
    headers: { authorization: "bearer sk-probe-key-0123456789x" },
    status: 401,
    says: /invalid_api_key/,
    expect: "invalid_api_key",
  },
  {
    kind: "a completion without the key",
    path: "/v1/completions",
    body: completion({}),
    status: 401,
    says: /invalid_api_key/,
    expect: "invalid_api_key, before the body is read",
  },
];
