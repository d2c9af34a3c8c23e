/** How to call a served model (a serve run's endpoint): curl, and the Python and JavaScript `openai` clients. */
export interface ServeExamples {
  curl: string;
  python: string;
  javascript: string;
}

const QUESTION = "Tell me about the sea.";

/**
 * `endpoint` is the base URL ending in /v1, as the serve run records it; `apiKey` the run's key, when the
 * reader may see it (admins), else the examples read it from the OPENAI_API_KEY environment variable.
 */
export function serveExamples(endpoint: string, model: string, apiKey?: string): ServeExamples {
  const body = JSON.stringify({ model, messages: [{ role: "user", content: QUESTION }], max_tokens: 64 });
  // JSON string literals are valid Python and JavaScript string literals alike.
  const m = JSON.stringify(model);
  const e = JSON.stringify(endpoint);
  const q = JSON.stringify(QUESTION);
  const key = apiKey ? JSON.stringify(apiKey) : null;
  return {
    curl: [
      `curl ${endpoint}/chat/completions \\`,
      `  -H "Content-Type: application/json" \\`,
      `  -H "Authorization: Bearer ${apiKey ?? "$OPENAI_API_KEY"}" \\`,
      `  -d '${body.replaceAll("'", "'\\''")}'`,
    ].join("\n"),
    python: [
      ...(key ? [] : ["import os"]),
      "from openai import OpenAI",
      "",
      `client = OpenAI(base_url=${e}, api_key=${key ?? 'os.environ["OPENAI_API_KEY"]'})`,
      "reply = client.chat.completions.create(",
      `    model=${m},`,
      `    messages=[{"role": "user", "content": ${q}}],`,
      "    max_tokens=64,",
      ")",
      "print(reply.choices[0].message.content)",
    ].join("\n"),
    javascript: [
      'import OpenAI from "openai";',
      "",
      `const client = new OpenAI({ baseURL: ${e}, apiKey: ${key ?? "process.env.OPENAI_API_KEY"} });`,
      "const stream = await client.chat.completions.create({",
      `  model: ${m},`,
      `  messages: [{ role: "user", content: ${q} }],`,
      "  stream: true,",
      "});",
      'for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta.content ?? "");',
    ].join("\n"),
  };
}
