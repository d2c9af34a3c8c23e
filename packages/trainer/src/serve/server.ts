/**
 * An OpenAI-compatible HTTP server over one ServeEngine: `GET /v1/models`, `POST /v1/completions` and
 * `POST /v1/chat/completions`, each answered in full or streamed as server-sent events the way OpenAI
 * streams them, with OpenAI-shaped errors. What one request may ask for is capped (completions = prompts ×
 * n, new tokens per completion), so a small request cannot make the server generate for hours; browser
 * pages may call it only from the origins it is told to allow (CORS is opt-in).
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SERVE_LIMITS } from "@rlhf/core/configs";
import { type GenerationRequest, type GenerationResult, type ServedModel, ServeEngine } from "./engine";
import {
  ApiError,
  type ChatCompletionRequest,
  type CompletionRequest,
  chatCompletionRequestSchema,
  completionRequestSchema,
  type FinishReason,
  parseRequest,
  stopList,
} from "./protocol";

export interface ServeOptions {
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 8000; 0 = any free port). */
  port?: number;
  /** When set, every request but a CORS preflight must carry `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Largest request body in bytes (default 1 MiB); more is a 413. */
  maxBodyBytes?: number;
  /** Most completions per request, prompts × n (default SERVE_LIMITS.maxChoices); more is a 400. */
  maxChoices?: number;
  /** Most new tokens per completion a request may ask for (default SERVE_LIMITS.maxTokens); more is a 400. */
  maxTokens?: number;
  /** Origins whose pages may call the server from a browser; `["*"]` for any. Default none. */
  corsOrigins?: string[];
}

interface Limits {
  apiKey?: string;
  maxBodyBytes: number;
  maxChoices: number;
  maxTokens: number;
  corsOrigins: string[];
}

export interface RunningServer {
  url: string;
  engine: ServeEngine;
  server: Server;
  /** Stop accepting requests, end open streams and free the port. */
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 1024 * 1024;
/** OpenAI's default for /v1/completions; chat completions default to what the context leaves. */
const DEFAULT_COMPLETION_TOKENS = 16;

const ROUTES: Record<string, string> = {
  "/v1/models": "GET",
  "/v1/completions": "POST",
  "/v1/chat/completions": "POST",
};

export async function startServer(served: ServedModel, options: ServeOptions = {}): Promise<RunningServer> {
  const engine = new ServeEngine(served);
  const limits: Limits = {
    apiKey: options.apiKey,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY,
    maxChoices: options.maxChoices ?? SERVE_LIMITS.maxChoices,
    maxTokens: options.maxTokens ?? SERVE_LIMITS.maxTokens,
    corsOrigins: options.corsOrigins ?? [],
  };
  const server = createServer((req, res) => {
    handle(engine, req, res, limits).catch((error: unknown) => {
      const apiError =
        error instanceof ApiError
          ? error
          : new ApiError(500, `internal error: ${error instanceof Error ? error.message : String(error)}`);
      sendError(res, apiError);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8000, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    engine,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** CORS headers for a request from an allowed origin; none for any other (the browser then refuses). */
function corsHeaders(req: IncomingMessage, allowed: string[]): Record<string, string> {
  const origin = req.headers.origin;
  if (!origin || allowed.length === 0) return {};
  const any = allowed.includes("*");
  if (!any && !allowed.includes(origin)) return {};
  return {
    "access-control-allow-origin": any ? "*" : origin,
    ...(any ? {} : { vary: "Origin" }),
    "access-control-allow-methods": "GET, POST, OPTIONS",
    // Echo what the browser asks for: `*` does not cover Authorization.
    "access-control-allow-headers":
      req.headers["access-control-request-headers"] ?? "authorization, content-type",
    "access-control-max-age": "86400",
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, error: ApiError) {
  if (res.headersSent) {
    // Mid-stream: the status is gone, so the error travels as an event, then the stream ends.
    if (!res.writableEnded) res.end(`data: ${JSON.stringify(error.toJSON())}\n\n`);
    return;
  }
  sendJson(res, error.status, error.toJSON(), error.status === 413 ? { connection: "close" } : {});
}

async function handle(
  engine: ServeEngine,
  req: IncomingMessage,
  res: ServerResponse,
  options: Limits,
): Promise<void> {
  for (const [name, value] of Object.entries(corsHeaders(req, options.corsOrigins)))
    res.setHeader(name, value);
  const url = new URL(req.url ?? "/", "http://localhost");
  const method = req.method ?? "GET";
  if (method === "OPTIONS") {
    res.writeHead(204);
    res.end();
    return;
  }
  if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
    req.resume();
    throw new ApiError(
      401,
      req.headers.authorization
        ? "Incorrect API key provided."
        : "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.",
      null,
      "invalid_api_key",
    );
  }
  const path = url.pathname.replace(/\/+$/, "");
  const modelPath = path.match(/^\/v1\/models\/(.+)$/);
  const allowed = modelPath ? "GET" : ROUTES[path];
  if (allowed === undefined) {
    req.resume();
    throw new ApiError(404, `Unknown request URL: ${method} ${url.pathname}.`, null, "unknown_url");
  }
  if (method !== allowed) {
    req.resume();
    res.setHeader("allow", `${allowed}, OPTIONS`);
    throw new ApiError(
      405,
      `Method ${method} is not allowed on ${url.pathname}; use ${allowed}.`,
      null,
      "method_not_allowed",
    );
  }

  const { served } = engine;
  const modelCard = { id: served.name, object: "model", created: served.created, owned_by: "rlhf-workbench" };
  if (modelPath) {
    let id: string;
    try {
      id = decodeURIComponent(modelPath[1]!);
    } catch {
      throw new ApiError(
        400,
        `The model id in the URL is not valid percent-encoding: ${modelPath[1]!.slice(0, 200)}`,
        "model",
        "invalid_value",
      );
    }
    if (id !== served.name) throw unknownModel(id);
    sendJson(res, 200, modelCard);
    return;
  }
  if (path === "/v1/models") {
    sendJson(res, 200, { object: "list", data: [modelCard] });
    return;
  }

  const body = await readJson(req, options.maxBodyBytes);
  if (path === "/v1/completions") {
    await completions(engine, parseRequest(completionRequestSchema, body), res, options);
  } else {
    await chatCompletions(engine, parseRequest(chatCompletionRequestSchema, body), res, options);
  }
}

/**
 * The request's share of the server, checked before any work: completions (prompts × n) and new tokens
 * per completion within the server's limits, else a 400 naming the field to change.
 */
function checkLimits(
  limits: Limits,
  prompts: number,
  n: number,
  requested: number | undefined,
  tokensParam: string,
): void {
  if (prompts * n > limits.maxChoices) {
    const param = n > 1 ? "n" : "prompt";
    throw new ApiError(
      400,
      `This request asks for ${prompts * n} completions (${prompts} prompt${prompts === 1 ? "" : "s"} × n ${n}); this server answers at most ${limits.maxChoices} per request. Send fewer prompts or a smaller n.`,
      param,
      "too_many_completions",
    );
  }
  if (requested !== undefined && requested > limits.maxTokens) {
    throw new ApiError(
      400,
      `'${tokensParam}' is ${requested}; this server generates at most ${limits.maxTokens} tokens per completion.`,
      tokensParam,
      "invalid_value",
    );
  }
}

function unknownModel(name: string): ApiError {
  return new ApiError(
    404,
    `The model '${name}' does not exist; this server serves one model (see /v1/models).`,
    "model",
    "model_not_found",
  );
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) {
    req.resume();
    throw new ApiError(
      413,
      `the request body is ${declared} bytes; the limit is ${limit}`,
      null,
      "request_too_large",
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw new ApiError(
        413,
        `the request body is over the limit of ${limit} bytes`,
        null,
        "request_too_large",
      );
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "")
    throw new ApiError(400, "the request body is empty; send a JSON object", null, "invalid_json");
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(
      400,
      `the request body is not valid JSON: ${(error as Error).message}`,
      null,
      "invalid_json",
    );
  }
}

/** What both endpoints share: model check, sampling fields with OpenAI's defaults, disconnect → abort. */
function common(
  engine: ServeEngine,
  request: CompletionRequest | ChatCompletionRequest,
  res: ServerResponse,
) {
  if (request.model && request.model !== engine.served.name) throw unknownModel(request.model);
  const abort = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) abort.abort();
  });
  return {
    n: request.n ?? 1,
    temperature: request.temperature ?? 1,
    topP: request.top_p ?? 1,
    seed: request.seed ?? ServeEngine.randomSeed(),
    stop: stopList(request.stop),
    signal: abort.signal,
    includeUsage: request.stream_options?.include_usage === true,
  };
}

function usage(result: GenerationResult) {
  return {
    prompt_tokens: result.promptTokens,
    completion_tokens: result.completionTokens,
    total_tokens: result.promptTokens + result.completionTokens,
  };
}

function startStream(res: ServerResponse) {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  return (data: unknown) => {
    if (!res.writableEnded) res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
  };
}

/** How an endpoint's responses differ: ids, object names, and what a choice and a stream piece hold. */
interface ResponseShape {
  idPrefix: string;
  object: string;
  chunkObject: string;
  /** A choice of the full response, without its index and finish reason. */
  choice(text: string): Record<string, unknown>;
  /** A streamed piece of a choice's text, a choice's last chunk, and (chat) the chunk that opens each choice. */
  piece(text: string): Record<string, unknown>;
  last: Record<string, unknown>;
  opening?: Record<string, unknown>;
}

const completionShape: ResponseShape = {
  idPrefix: "cmpl",
  object: "text_completion",
  chunkObject: "text_completion",
  choice: (text) => ({ text, logprobs: null }),
  piece: (text) => ({ text, logprobs: null }),
  last: { text: "", logprobs: null },
};

const chatShape: ResponseShape = {
  idPrefix: "chatcmpl",
  object: "chat.completion",
  chunkObject: "chat.completion.chunk",
  choice: (text) => ({ message: { role: "assistant", content: text, refusal: null }, logprobs: null }),
  piece: (text) => ({ delta: { content: text }, logprobs: null }),
  last: { delta: {}, logprobs: null },
  opening: { delta: { role: "assistant", content: "" }, logprobs: null },
};

async function completions(
  engine: ServeEngine,
  request: CompletionRequest,
  res: ServerResponse,
  limits: Limits,
) {
  const texts = [request.prompt].flat();
  checkLimits(limits, texts.length, request.n ?? 1, request.max_tokens ?? undefined, "max_tokens");
  const shared = common(engine, request, res);
  const prompts = texts.map((p) => engine.encodePrompt(p));
  const requested = request.max_tokens ?? Math.min(DEFAULT_COMPLETION_TOKENS, limits.maxTokens);
  const maxTokens = engine.completionBudget(prompts, requested, "max_tokens", "prompt");
  await respond(engine, res, { ...shared, prompts, maxTokens }, request.stream === true, completionShape);
}

async function chatCompletions(
  engine: ServeEngine,
  request: ChatCompletionRequest,
  res: ServerResponse,
  limits: Limits,
) {
  const requested = request.max_completion_tokens ?? request.max_tokens ?? undefined;
  const param = request.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens";
  checkLimits(limits, 1, request.n ?? 1, requested, param);
  const shared = common(engine, request, res);
  const prompts = [engine.encodeChat(request.messages)];
  // Unasked, a chat completion runs to the end of the context, but no further than the server's limit.
  const maxTokens = Math.min(
    engine.completionBudget(prompts, requested, param, "messages"),
    requested ?? limits.maxTokens,
  );
  await respond(engine, res, { ...shared, prompts, maxTokens }, request.stream === true, chatShape);
}

/** Run the generation and answer in full, or as OpenAI's event stream (chunks, finish reasons, usage, [DONE]). */
async function respond(
  engine: ServeEngine,
  res: ServerResponse,
  job: GenerationRequest & { includeUsage: boolean },
  stream: boolean,
  shape: ResponseShape,
) {
  const header = {
    id: `${shape.idPrefix}-${randomUUID().replaceAll("-", "")}`,
    object: shape.object,
    created: Math.floor(Date.now() / 1000),
    model: engine.served.name,
  };
  if (!stream) {
    const result = await engine.run(job);
    sendJson(res, 200, {
      ...header,
      choices: result.choices.map((c) => ({
        index: c.index,
        ...shape.choice(c.text),
        finish_reason: c.finishReason,
      })),
      usage: usage(result),
    });
    return;
  }
  const send = startStream(res);
  const chunkHeader = { ...header, object: shape.chunkObject };
  const extra = job.includeUsage ? { usage: null } : {};
  const chunk = (index: number, body: Record<string, unknown>, finishReason: FinishReason | null) => ({
    ...chunkHeader,
    choices: [{ index, ...body, finish_reason: finishReason }],
    ...extra,
  });
  const choices = job.prompts.length * job.n;
  if (shape.opening) for (let index = 0; index < choices; index++) send(chunk(index, shape.opening, null));
  const result = await engine.run({
    ...job,
    onText: (index, text) => send(chunk(index, shape.piece(text), null)),
  });
  if (result.aborted) return;
  for (const c of result.choices) send(chunk(c.index, shape.last, c.finishReason));
  if (job.includeUsage) send({ ...chunkHeader, choices: [], usage: usage(result) });
  send("[DONE]");
  res.end();
}
