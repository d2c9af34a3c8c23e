/**
 * `rlhf serve`: a real HTTP server on port 0 over a tiny GPT saved to a temporary checkpoint directory,
 * called with fetch and with the official `openai` client. Streams are checked against the non-streaming
 * answer for the same seed, errors against OpenAI's shape, and tensor memory across requests. wasm backend.
 */
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { saveCheckpoint } from "../src/checkpoint";
import { GPT, gptConfig } from "../src/model";
import { ChoiceText, loadServedModel, type RunningServer, type ServedModel, startServer } from "../src/serve";
import { END_OF_TEXT, type Tokenizer, trainBpe } from "../src/tokenizer";
import { type TinyServed, tinyServed } from "./fixtures/tiny-served";

const CONTEXT = 96;
let tiny: TinyServed;
let tokenizer: Tokenizer;
let served: ServedModel;
let server: RunningServer;
let url: string;

beforeAll(async () => {
  tiny = await tinyServed("tiny-policy", CONTEXT);
  ({ served, tokenizer } = tiny);
  server = await startServer(served, { port: 0, maxBodyBytes: 64 * 1024 });
  url = server.url;
});

afterAll(async () => {
  await server?.close();
  tiny?.dispose();
});

function post(route: string, body: unknown, init: RequestInit = {}) {
  return fetch(`${url}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  });
}

/** The parsed `data:` events of a server-sent event stream, up to and including "[DONE]". */
async function events(response: Response): Promise<unknown[]> {
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
  const text = await response.text();
  expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
  return text
    .split("\n\n")
    .filter((block) => block.length > 0)
    .map((block) => {
      expect(block.startsWith("data: ")).toBe(true);
      const data = block.slice(6);
      return data === "[DONE]" ? data : JSON.parse(data);
    });
}

interface CompletionChunk {
  object: string;
  choices: { index: number; text: string; finish_reason: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
}
interface ChatChunk {
  object: string;
  choices: { index: number; delta: { role?: string; content?: string }; finish_reason: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
}

async function complete(body: Record<string, unknown>) {
  const response = await post("/v1/completions", body);
  expect(response.status).toBe(200);
  return (await response.json()) as {
    id: string;
    object: string;
    created: number;
    model: string;
    choices: { index: number; text: string; finish_reason: string }[];
    usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  };
}

async function expectError(response: Response, status: number, param: string | null, message?: RegExp) {
  expect(response.status).toBe(status);
  const body = (await response.json()) as {
    error: { message: string; type: string; param: string | null; code: string | null };
  };
  expect(body.error.param).toBe(param);
  expect(body.error.type).toBe(status >= 500 ? "server_error" : "invalid_request_error");
  expect(body.error.message.length).toBeGreaterThan(0);
  if (message) expect(body.error.message).toMatch(message);
  return body.error;
}

describe("rlhf serve", () => {
  it("lists the model under the checkpoint directory's name", async () => {
    const response = await fetch(`${url}/v1/models`);
    expect(response.status).toBe(200);
    // CORS is opt-in: no page of another site may call a server that did not allow it.
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    const list = (await response.json()) as { object: string; data: { id: string; object: string }[] };
    expect(list.object).toBe("list");
    expect(list.data.map((m) => m.id)).toEqual(["tiny-policy"]);
    expect(list.data[0]?.object).toBe("model");
    const one = await fetch(`${url}/v1/models/tiny-policy`);
    expect(((await one.json()) as { id: string }).id).toBe("tiny-policy");
    await expectError(await fetch(`${url}/v1/models/other`), 404, "model");
  });

  it("answers a completion, and its stream concatenates to the same text for the same seed", async () => {
    const request = { model: "tiny-policy", prompt: "The weather today", max_tokens: 20, seed: 7 };
    const full = await complete(request);
    expect(full.object).toBe("text_completion");
    expect(full.id).toMatch(/^cmpl-/);
    expect(full.model).toBe("tiny-policy");
    expect(full.created).toBeGreaterThan(1_700_000_000);
    const choice = full.choices[0]!;
    expect(full.choices).toHaveLength(1);
    expect(["stop", "length"]).toContain(choice.finish_reason);
    const promptTokens = tokenizer.encode("The weather today").length;
    expect(full.usage.prompt_tokens).toBe(promptTokens);
    expect(full.usage.completion_tokens).toBeGreaterThan(0);
    expect(full.usage.completion_tokens).toBeLessThanOrEqual(20);
    expect(full.usage.total_tokens).toBe(promptTokens + full.usage.completion_tokens);

    const chunks = await events(
      await post("/v1/completions", { ...request, stream: true, stream_options: { include_usage: true } }),
    );
    expect(chunks.at(-1)).toBe("[DONE]");
    const data = chunks.slice(0, -1) as CompletionChunk[];
    const usageChunk = data.at(-1)!;
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage).toEqual(full.usage);
    const textChunks = data.slice(0, -1);
    expect(textChunks.length).toBeGreaterThan(2);
    for (const chunk of textChunks) expect(chunk.object).toBe("text_completion");
    expect(textChunks.map((c) => c.choices[0]!.text).join("")).toBe(choice.text);
    expect(textChunks.at(-1)!.choices[0]!.finish_reason).toBe(choice.finish_reason);
    expect(textChunks.slice(0, -1).every((c) => c.choices[0]!.finish_reason === null)).toBe(true);
  });

  it("is reproducible from its seed", async () => {
    const request = { prompt: "Tell me about tea", max_tokens: 24, temperature: 1 };
    const a = await complete({ ...request, seed: 11 });
    const b = await complete({ ...request, seed: 11 });
    const c = await complete({ ...request, seed: 12 });
    expect(a.choices[0]!.text).toBe(b.choices[0]!.text);
    expect(c.choices[0]!.text).not.toBe(a.choices[0]!.text);
  });

  it("streams a chat answer in the chat format: role first, then content, then the finish reason", async () => {
    const request = {
      model: "tiny-policy",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Tell me about the sea." },
        { role: "assistant", content: "It is large." },
        { role: "user", content: [{ type: "text", text: "And rivers?" }] },
      ],
      max_completion_tokens: 16,
      seed: 5,
    };
    const full = (await (await post("/v1/chat/completions", request)).json()) as {
      object: string;
      choices: { message: { role: string; content: string }; finish_reason: string }[];
      usage: { prompt_tokens: number; completion_tokens: number };
    };
    expect(full.object).toBe("chat.completion");
    expect(full.choices[0]!.message.role).toBe("assistant");
    const expectedPrompt = [
      ...tokenizer.formatChat("Be brief.\n\nTell me about the sea.", "It is large.").ids,
      ...tokenizer.formatChat("And rivers?").ids,
    ];
    expect(full.usage.prompt_tokens).toBe(expectedPrompt.length);

    const chunks = (await events(await post("/v1/chat/completions", { ...request, stream: true }))).slice(
      0,
      -1,
    ) as ChatChunk[];
    for (const chunk of chunks) {
      expect(chunk.object).toBe("chat.completion.chunk");
      expect(chunk.usage).toBeUndefined();
    }
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: "assistant", content: "" });
    const last = chunks.at(-1)!.choices[0]!;
    expect(last.delta).toEqual({});
    expect(last.finish_reason).toBe(full.choices[0]!.finish_reason);
    const content = chunks
      .slice(1, -1)
      .map((c) => c.choices[0]!.delta.content)
      .join("");
    expect(content).toBe(full.choices[0]!.message.content);
  });

  it("cuts the text at a stop string and reports finish_reason stop, streaming or not", async () => {
    const request = { prompt: "A cup of", max_tokens: 40, seed: 21 };
    const free = (await complete(request)).choices[0]!.text;
    // a stop string from the middle of the free text, with no undecodable bytes in it
    const start = [...free.matchAll(/[a-z ]{3}/g)].find((m) => m.index >= 4)?.index;
    expect(start).toBeDefined();
    const stop = free.slice(start!, start! + 3);
    const cut = free.slice(0, free.indexOf(stop));
    const stopped = await complete({ ...request, stop: [stop, "never-appears"] });
    expect(stopped.choices[0]!.text).toBe(cut);
    expect(stopped.choices[0]!.finish_reason).toBe("stop");
    expect(stopped.usage.completion_tokens).toBeLessThan(40);
    const chunks = (await events(await post("/v1/completions", { ...request, stop, stream: true }))).slice(
      0,
      -1,
    ) as CompletionChunk[];
    expect(chunks.map((c) => c.choices[0]!.text).join("")).toBe(cut);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe("stop");
  });

  it("gives n choices per prompt, numbered prompt-major, for a prompt array", async () => {
    const one = await complete({ prompt: "Apples are", n: 3, max_tokens: 12, seed: 2 });
    expect(one.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(new Set(one.choices.map((c) => c.text)).size).toBeGreaterThan(1);
    const many = await complete({ prompt: ["Apples are", "The train"], n: 2, max_tokens: 8, seed: 2 });
    expect(many.choices.map((c) => c.index)).toEqual([0, 1, 2, 3]);
    expect(many.usage.prompt_tokens).toBe(
      tokenizer.encode("Apples are").length + tokenizer.encode("The train").length,
    );
    const chunks = (
      await events(
        await post("/v1/chat/completions", {
          messages: [{ role: "user", content: "Hi" }],
          n: 2,
          max_tokens: 6,
          stream: true,
        }),
      )
    ).slice(0, -1) as ChatChunk[];
    const indices = new Set(chunks.map((c) => c.choices[0]!.index));
    expect(indices).toEqual(new Set([0, 1]));
    expect(chunks.filter((c) => c.choices[0]!.finish_reason !== null)).toHaveLength(2);
  });

  it("answers each bad request with OpenAI's error shape, status and param", async () => {
    await expectError(await post("/v1/completions", "{not json"), 400, null, /not valid JSON/);
    expect((await expectError(await post("/v1/completions", "[1,2]"), 400, null, /JSON object/)).code).toBe(
      "invalid_json",
    );
    await expectError(
      await post("/v1/completions", { max_tokens: 4 }),
      400,
      "prompt",
      /'prompt' is required/,
    );
    await expectError(await post("/v1/completions", { prompt: 3 }), 400, "prompt");
    await expectError(await post("/v1/completions", { prompt: "a", temperature: 5 }), 400, "temperature");
    await expectError(await post("/v1/completions", { prompt: "a", max_tokens: 0 }), 400, "max_tokens");
    await expectError(await post("/v1/completions", { prompt: "a", n: 1.5 }), 400, "n");
    await expectError(await post("/v1/completions", { prompt: "a", stop: [1] }), 400, "stop");
    await expectError(
      await post("/v1/completions", { prompt: "a", logprobs: 2 }),
      400,
      "logprobs",
      /not supported/,
    );
    await expectError(
      await post("/v1/chat/completions", { messages: [{ role: "user", content: 1 }] }),
      400,
      "messages[0].content",
    );
    await expectError(
      await post("/v1/chat/completions", { messages: [{ role: "robot", content: "x" }] }),
      400,
      "messages[0].role",
    );
    const lastTurn = await expectError(
      await post("/v1/chat/completions", {
        messages: [
          { role: "user", content: "hi" },
          { role: "assistant", content: "yo" },
        ],
      }),
      400,
      "messages[1].role",
      /last message must be from the user/,
    );
    expect(lastTurn.code).toBe("invalid_value"); // every 4xx names its kind (never code: null)
    const tooLong = await expectError(
      await post("/v1/completions", { prompt: "a b", max_tokens: CONTEXT }),
      400,
      "max_tokens",
      new RegExp(`maximum context length is ${CONTEXT}`),
    );
    expect(tooLong.code).toBe("context_length_exceeded");
    await expectError(
      await post("/v1/chat/completions", {
        messages: [{ role: "user", content: "hi" }],
        max_completion_tokens: CONTEXT,
      }),
      400,
      "max_completion_tokens",
    );
    await expectError(
      await post("/v1/chat/completions", { messages: [{ role: "user", content: "word ".repeat(CONTEXT) }] }),
      400,
      "messages",
      /no room for a completion/,
    );
    await expectError(await post("/v1/completions", { model: "gpt-4", prompt: "a" }), 404, "model", /gpt-4/);
    await expectError(await post("/v1/embeddings", { input: "a" }), 404, null, /Unknown request URL/);
    const wrongMethod = await fetch(`${url}/v1/completions`);
    expect(wrongMethod.headers.get("allow")).toMatch(/POST/);
    await expectError(wrongMethod, 405, null);
    await expectError(await post("/v1/completions", { prompt: "x".repeat(70 * 1024) }), 413, null);
  });

  it("answers CORS only for the origins it was given, and requires the API key when one is set", async () => {
    const preflight = (base: string, origin: string) =>
      fetch(`${base}/v1/chat/completions`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization, content-type",
        },
      });
    // By default no origin is allowed: a page elsewhere cannot make a visitor's browser call the server.
    const closed = await preflight(url, "http://example.test");
    expect(closed.status).toBe(204);
    expect(closed.headers.get("access-control-allow-origin")).toBeNull();
    const cors = await startServer(served, { port: 0, corsOrigins: ["http://example.test"] });
    try {
      const allowed = await preflight(cors.url, "http://example.test");
      expect(allowed.headers.get("access-control-allow-origin")).toBe("http://example.test");
      expect(allowed.headers.get("access-control-allow-methods")).toMatch(/POST/);
      expect(allowed.headers.get("access-control-allow-headers")).toMatch(/authorization/);
      const other = await preflight(cors.url, "http://evil.test");
      expect(other.headers.get("access-control-allow-origin")).toBeNull();
    } finally {
      await cors.close();
    }

    const guarded = await startServer(served, { port: 0, apiKey: "sk-test" });
    try {
      await expectError(await fetch(`${guarded.url}/v1/models`), 401, null, /didn't provide an API key/);
      const wrong = await fetch(`${guarded.url}/v1/models`, { headers: { authorization: "Bearer nope" } });
      expect((await expectError(wrong, 401, null)).code).toBe("invalid_api_key");
      const right = await fetch(`${guarded.url}/v1/models`, { headers: { authorization: "Bearer sk-test" } });
      expect(right.status).toBe(200);
      const open = await fetch(`${guarded.url}/v1/models`, { method: "OPTIONS" });
      expect(open.status).toBe(204);
    } finally {
      await guarded.close();
    }
  });

  it("caps what one request may ask for (prompts × n, tokens per completion) with a 400 naming the field", async () => {
    const many = Array.from({ length: 17 }, (_, i) => `prompt ${i}`);
    await expectError(
      await post("/v1/completions", { prompt: many }),
      400,
      "prompt",
      /17 completions.*at most 16/,
    );
    await expectError(
      await post("/v1/completions", { prompt: ["a", "b", "c"], n: 6 }),
      400,
      "n",
      /18 completions \(3 prompts × n 6\)/,
    );
    await expectError(
      await post("/v1/completions", { prompt: "a", max_tokens: 5000 }),
      400,
      "max_tokens",
      /at most 1024/,
    );
    await expectError(
      await post("/v1/chat/completions", {
        messages: [{ role: "user", content: "hi" }],
        max_completion_tokens: 1_000_000,
      }),
      400,
      "max_completion_tokens",
    );
    // The request: 200 prompts × n 16 = 3,200 generations from a few kilobytes.
    const amplified = await post("/v1/completions", { prompt: Array(200).fill("x"), n: 16, max_tokens: 1 });
    expect((await expectError(amplified, 400, "n")).code).toBe("too_many_completions");
    const strict = await startServer(served, { port: 0, maxChoices: 2, maxTokens: 4 });
    try {
      const base = strict.url;
      const ask = (body: unknown) =>
        fetch(`${base}/v1/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      await expectError(await ask({ prompt: "a", n: 3 }), 400, "n", /at most 2 per request/);
      await expectError(await ask({ prompt: "a", max_tokens: 5 }), 400, "max_tokens", /at most 4 tokens/);
      const fine = await ask({ prompt: ["a", "b"], max_tokens: 4, seed: 1 });
      expect(fine.status).toBe(200);
      // A chat completion that asks for nothing in particular stops at the server's limit too.
      const chat = await fetch(`${base}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], seed: 1 }),
      });
      const body = (await chat.json()) as { usage: { completion_tokens: number } };
      expect(body.usage.completion_tokens).toBeLessThanOrEqual(4);
    } finally {
      await strict.close();
    }
  });

  it("a model id in the URL that is not valid percent-encoding is a 400 naming model", async () => {
    for (const bad of ["%E0%A4%A", "%", "%zz", "%C0%AF"]) {
      await expectError(await fetch(`${url}/v1/models/${bad}`), 400, "model", /percent-encoding/);
    }
    await expectError(await fetch(`${url}/v1/models/gpt%2D4`), 404, "model", /gpt-4/);
  });

  it("runs requests one at a time: one sent while another streams waits for it to finish", async () => {
    const finished: string[] = [];
    const long = await post("/v1/completions", {
      prompt: "Long",
      n: 8,
      max_tokens: 80,
      stream: true,
      seed: 1,
    });
    const reader = long.body!.getReader();
    await reader.read(); // the long request is generating now
    const short = complete({ prompt: "Short", max_tokens: 1, seed: 1 }).then(() => finished.push("short"));
    while (!(await reader.read()).done) {}
    finished.push("long");
    await short;
    expect(finished).toEqual(["long", "short"]);
  });

  it("stops generating for a client that disconnects mid-stream", async () => {
    const before = { ...server.engine.stats };
    const abort = new AbortController();
    const response = await post(
      "/v1/completions",
      { prompt: "Stream", n: 8, max_tokens: 80, stream: true, seed: 3 },
      { signal: abort.signal },
    );
    const reader = response.body!.getReader();
    await reader.read();
    abort.abort();
    await reader.cancel().catch(() => {});
    // the next request waits in the FIFO behind the aborted one, so by its end the abort is counted
    await complete({ prompt: "after", max_tokens: 2, seed: 1 });
    expect(server.engine.stats.aborted).toBe(before.aborted + 1);
    const generatedByAborted = server.engine.stats.generatedTokens - before.generatedTokens - 2;
    expect(generatedByAborted).toBeLessThan(8 * 40);
  });

  it("keeps tf.memory().numTensors flat across requests", async () => {
    await complete({ prompt: "warm up", max_tokens: 4, seed: 1 });
    const before = tf.memory().numTensors;
    await complete({ prompt: ["one", "two words"], n: 2, max_tokens: 12, seed: 1 });
    await events(await post("/v1/completions", { prompt: "three", max_tokens: 12, stream: true, stop: "e" }));
    await post("/v1/chat/completions", { messages: [{ role: "user", content: "four" }], max_tokens: 9 });
    await post("/v1/completions", { prompt: "a", max_tokens: 1000 }); // a 400: nothing allocated
    expect(tf.memory().numTensors).toBe(before);
  });

  it("works with the official openai client", async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["tiny-policy"]);

    const completion = await client.completions.create({
      model: "tiny-policy",
      prompt: "The garden",
      max_tokens: 10,
      seed: 4,
    });
    expect(completion.choices[0]!.text).toBe(
      (await complete({ prompt: "The garden", max_tokens: 10, seed: 4 })).choices[0]!.text,
    );

    const chat = await client.chat.completions.create({
      model: "tiny-policy",
      messages: [{ role: "user", content: "Say something nice." }],
      max_completion_tokens: 12,
      seed: 9,
    });
    expect(chat.choices[0]!.message.role).toBe("assistant");
    const stream = await client.chat.completions.create({
      model: "tiny-policy",
      messages: [{ role: "user", content: "Say something nice." }],
      max_completion_tokens: 12,
      seed: 9,
      stream: true,
      stream_options: { include_usage: true },
    });
    let streamed = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(streamed).toBe(chat.choices[0]!.message.content);
    expect(usage).toEqual(chat.usage);

    const error = await client.completions
      .create({ model: "tiny-policy", prompt: "x", max_tokens: CONTEXT * 2 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("max_tokens");
  });
});

describe("a model without the chat format (GPT-2's tokenizer has no user/assistant tokens)", () => {
  it("answers completions, and chat with a 400 that says to use completions", async () => {
    const plain = trainBpe(["plain text only, like GPT-2's corpus"], {
      vocabSize: 270,
      specialTokens: [END_OF_TEXT],
    });
    const dir = path.join(path.dirname(tiny.checkpointDir), "plain");
    const model = new GPT(
      gptConfig("tiny", { nLayer: 1, nEmbd: 16, nHead: 2, nPositions: 32, vocabSize: plain.vocabSize }),
      { seed: 1 },
    );
    await saveCheckpoint(dir, model, plain);
    model.dispose();
    const plainModel = await loadServedModel(dir, { name: "plain" });
    const plainServer = await startServer(plainModel, { port: 0 });
    try {
      const completion = await fetch(`${plainServer.url}/v1/completions`, {
        method: "POST",
        body: JSON.stringify({ prompt: "plain", max_tokens: 3 }),
      });
      expect(completion.status).toBe(200);
      const chat = await fetch(`${plainServer.url}/v1/chat/completions`, {
        method: "POST",
        body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
      });
      const error = await expectError(chat, 400, "messages", /no chat format.*\/v1\/completions/);
      expect(error.code).toBe("chat_not_supported");
    } finally {
      await plainServer.close();
      plainModel.model.dispose();
    }
  });
});

describe("ChoiceText", () => {
  it("holds back text that may start a stop string and cuts at the stop", () => {
    const ids = tokenizer.encode("one two three four");
    const choice = new ChoiceText(tokenizer, ["thr"]);
    const pieces: string[] = [];
    for (const id of ids) {
      const done = choice.push(id);
      pieces.push(choice.take());
      if (done) break;
    }
    expect(pieces.join("")).toBe("one two ");
    expect(choice.fullText).toBe("one two ");
    expect(choice.finishReason).toBe("stop");
  });

  it("never hands out half a character", () => {
    const ids = tokenizer.encode("tea ☕ time");
    const choice = new ChoiceText(tokenizer, []);
    const pieces: string[] = [];
    for (const id of ids) {
      choice.push(id);
      pieces.push(choice.take());
    }
    choice.finish("length");
    pieces.push(choice.take());
    expect(pieces.every((p) => !p.includes("\uFFFD"))).toBe(true);
    expect(pieces.join("")).toBe("tea ☕ time");
    expect(choice.finishReason).toBe("length");
  });
});
