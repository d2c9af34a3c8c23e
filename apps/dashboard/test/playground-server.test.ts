/**
 * `playground.generate` on the test database: the server's completion equals `generate` of @rlhf/trainer
 * on the checkpoint, the model stays loaded between requests, and what cannot be generated is an error
 * that says why.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { checkpoints, runs } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { createCallerFactory, createInnerContext, type Session } from "@rlhf/core/trpc";
import { initBackend } from "@rlhf/trainer/backend";
import { completionText, GPT, generate, gptConfig } from "@rlhf/trainer/browser";
import { saveCheckpoint } from "@rlhf/trainer/checkpoint";
import { trainBpe } from "@rlhf/trainer/tokenizer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SETTINGS } from "~/lib/playground";
import { appRouter } from "~/server/api/root";

let t: TestDatabase;
// A signed-in annotator: server-side generation needs an account, not the admin role.
const ANNOTATOR: Session = { user: { id: "ann", name: "Ann", email: "ann@example.com", role: "annotator" } };
const caller = (session: Session | null = ANNOTATOR) =>
  createCallerFactory(appRouter)(createInnerContext({ database: t, session }));
const home = mkdtempSync(path.join(tmpdir(), "playground-server-"));
let checkpointId: string;
let emptyCheckpointId: string;
let expected: { tokens: number[]; text: string };

beforeAll(async () => {
  t = await createTestDatabase("rlhf_dashboard_playground_server");
  await initBackend("wasm");
  const tokenizer = trainBpe(["the park was lovely and the dogs were happy", "a cold rainy day"], {
    vocabSize: 290,
  });
  const model = new GPT(
    gptConfig("tiny", { vocabSize: tokenizer.vocabSize, nPositions: 32, nEmbd: 16, nLayer: 1, nHead: 2 }),
    { seed: 2 },
  );
  const dir = path.join(home, "step-000010");
  await saveCheckpoint(dir, model, tokenizer);
  const { tokens } = await generate(model, [tokenizer.formatChat("the park").ids], {
    maxNewTokens: 10,
    greedy: true,
    eosTokenId: tokenizer.eosId,
    padTokenId: tokenizer.padId,
  });
  expected = { tokens: tokens[0]!, text: completionText(tokenizer, tokens[0]!) };
  model.dispose();

  const [run] = await t.db.insert(runs).values({ name: "server-sft", kind: "sft", config: {} }).returning();
  const saved = await t.db
    .insert(checkpoints)
    .values([
      { runId: run!.id, step: 10, path: dir, isFinal: true },
      { runId: run!.id, step: 5, path: path.join(home, "never-written") },
    ])
    .returning();
  checkpointId = saved[0]!.id;
  emptyCheckpointId = saved[1]!.id;
});

afterAll(async () => {
  await t?.drop();
  rmSync(home, { recursive: true, force: true });
});

describe("playground.generate", () => {
  const settings = { ...DEFAULT_SETTINGS, prompt: "the park", maxNewTokens: 10 };

  it("generates greedily what generate() gives, and keeps the model loaded", async () => {
    const first = await caller().playground.generate({ checkpointId, settings });
    expect(first.tokens).toEqual(expected.tokens);
    expect(first.text).toBe(expected.text);
    expect(first.loadMs).toBeGreaterThan(0);
    expect(first.backend).toMatch(/^wasm · /);
    const again = await caller().playground.generate({ checkpointId, settings });
    expect(again.tokens).toEqual(expected.tokens);
    expect(again.loadMs).toBe(0);
  });

  it("needs an account: it spends the server's CPU", async () => {
    await expect(caller(null).playground.generate({ checkpointId, settings })).rejects.toMatchObject({
      code: "UNAUTHORIZED",
    });
  });

  it("says what is wrong: unknown checkpoint, files missing, bad settings, a prompt longer than the context", async () => {
    await expect(
      caller().playground.generate({ checkpointId: randomUUID(), settings }),
    ).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: expect.stringMatching(/^no checkpoint /),
    });
    await expect(
      caller().playground.generate({ checkpointId: emptyCheckpointId, settings }),
    ).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: expect.stringMatching(/config\.json of checkpoint .* is not readable from this server/),
    });
    await expect(
      caller().playground.generate({ checkpointId, settings: { ...settings, maxNewTokens: 0 } }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(
      caller().playground.generate({
        checkpointId,
        settings: { ...settings, prompt: "the park ".repeat(30), format: "plain" },
      }),
    ).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringMatching(/the prompt is \d+ tokens; the model's context is 32/),
    });
  });
});
