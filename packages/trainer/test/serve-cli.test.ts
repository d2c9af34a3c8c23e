/**
 * `rlhf serve` as a process: a run's checkpoint at a given step resolved through a real database, the
 * banner (URL, backend, curl example), answering over HTTP, and a clean exit on SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { checkpoints, runs } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { saveCheckpoint } from "../src/checkpoint";
import { GPT, gptConfig } from "../src/model";
import { trainBpe } from "../src/tokenizer";

const TSX = createRequire(import.meta.url).resolve("tsx");
const MAIN = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const home = mkdtempSync(path.join(os.tmpdir(), "rlhf-serve-cli-"));
let t: TestDatabase;
const started = new Set<ChildProcess>();

/** Start `rlhf serve ...` and wait for its banner's URL. */
async function serve(args: string[]) {
  const child = spawn(
    process.execPath,
    ["--import", TSX, MAIN, "serve", "--port", "0", "--backend", "wasm", ...args],
    {
      env: { ...process.env, DATABASE_URL: t.url, RLHF_QUIET: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  started.add(child);
  let output = "";
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL in 60 s; printed:\n${output}`)), 60_000);
    child.stdout!.setEncoding("utf8").on("data", (c: string) => {
      output += c;
      const match = output.match(/url\s+(http:\/\/\S+)\/v1/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void exited.then((code) => reject(new Error(`exited with ${code} before serving:\n${output}`)));
  });
  return { child, url, exited, output: () => output };
}

beforeAll(async () => {
  await initBackend("wasm");
  t = await createTestDatabase();
  const tokenizer = trainBpe(["a tiny corpus about tea and the sea", "the sea is blue"], { vocabSize: 280 });
  const config = gptConfig("tiny", {
    nLayer: 1,
    nEmbd: 16,
    nHead: 2,
    nPositions: 32,
    vocabSize: tokenizer.vocabSize,
  });
  const [run] = await t.db
    .insert(runs)
    .values({ name: "policy-run", kind: "sft", config: {}, status: "succeeded" })
    .returning();
  for (const step of [10, 20]) {
    const dir = path.join(home, `step-${step}`);
    const model = new GPT(config, { seed: step });
    await saveCheckpoint(dir, model, tokenizer);
    model.dispose();
    await t.db.insert(checkpoints).values({ runId: run!.id, step, path: dir, isFinal: step === 20 });
  }
});

afterEach(() => {
  for (const child of started) child.kill("SIGKILL");
  started.clear();
});

afterAll(async () => {
  await t?.drop();
  rmSync(home, { recursive: true, force: true });
});

describe("rlhf serve (CLI)", () => {
  it("serves a run's checkpoint at a step under the run's name, and exits cleanly on SIGTERM", async () => {
    const server = await serve(["--run", "policy-run", "--step", "10"]);
    expect(server.output()).toContain(path.join(home, "step-10"));
    expect(server.output()).toMatch(/backend\s+wasm/);
    expect(server.output()).toContain(`curl ${server.url}/v1/chat/completions`);
    const models = (await (await fetch(`${server.url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toEqual(["policy-run"]);
    const completion = await fetch(`${server.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "policy-run", prompt: "the sea", max_tokens: 4 }),
    });
    expect(completion.status).toBe(200);
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  });

  it("serves a checkpoint directory under --model-name, behind --api-key", async () => {
    const server = await serve([
      "--checkpoint",
      path.join(home, "step-20"),
      "--model-name",
      "tea",
      "--api-key",
      "k",
    ]);
    expect(server.output()).toContain("Authorization: Bearer $OPENAI_API_KEY");
    expect((await fetch(`${server.url}/v1/models`)).status).toBe(401);
    const models = await fetch(`${server.url}/v1/models`, { headers: { authorization: "Bearer k" } });
    expect(((await models.json()) as { data: { id: string }[] }).data[0]!.id).toBe("tea");
    server.child.kill("SIGINT");
    expect(await server.exited).toBe(0);
  });

  it("says which step exists when --step names none", async () => {
    await expect(serve(["--run", "policy-run", "--step", "15"])).rejects.toThrow(
      /no checkpoint at step 15 \(it has steps 10, 20\)/,
    );
  });
});
