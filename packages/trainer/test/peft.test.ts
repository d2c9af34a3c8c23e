/**
 * LoRA adapters on disk in Hugging Face PEFT's format: key names and layouts as PEFT saves a
 * GPT2LMHeadModel / GPT2ForSequenceClassification adapter (Conv1D, fan_in_fan_out), the round trip, loading
 * merged for inference, `rlhf merge`, and errors that name the key or the file. wasm backend.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DEMO_DATASETS } from "@rlhf/core/demo";
import { checkpoints, runs } from "@rlhf/core/schema";
import type { TestDatabase } from "@rlhf/core/testing";
import * as tf from "@tensorflow/tfjs";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { loadCheckpoint, saveCheckpoint } from "../src/checkpoint";
import { readSafetensors } from "../src/checkpoint/safetensors";
import { mergeCommand } from "../src/cli/merge";
import { executeRun } from "../src/jobs/execute";
import { addLora, GPT, type GPTConfig, mulberry32, normalSamples } from "../src/model";
import { loadServedModel, startServer } from "../src/serve";
import { type Tokenizer, trainBpe } from "../src/tokenizer";
import { preferenceTestSetup } from "./fixtures/preferences";

const home = mkdtempSync(path.join(os.tmpdir(), "peft-test-"));
// A database with oracle-ranked preferences and a tiny SFT checkpoint, for the reward model trained with LoRA.
let db: TestDatabase;
const preferences = preferenceTestSetup(
  { home: "rlhf-peft-reward-", tasks: 48, evalEvery: 4, seeds: { sentences: 11, tasks: 1 } },
  (ready) => {
    db = ready.t;
  },
);
let tokenizer: Tokenizer;
let config: GPTConfig;
const baseDir = path.join(home, "base");
const rewardBaseDir = path.join(home, "reward-base");

beforeAll(async () => {
  await initBackend("wasm");
  tokenizer = trainBpe(["the cat sat on the mat", "a dog ran in the park", "hello there"], {
    vocabSize: 280,
  });
  config = {
    vocabSize: tokenizer.vocabSize,
    nPositions: 16,
    nEmbd: 16,
    nLayer: 2,
    nHead: 2,
    layerNormEpsilon: 1e-5,
    initializerRange: 0.2,
  };
  const base = new GPT(config, { seed: 1 });
  await saveCheckpoint(baseDir, base, tokenizer);
  base.dispose();
  const rewardBase = new GPT(config, { seed: 1, rewardHead: true });
  await saveCheckpoint(rewardBaseDir, rewardBase, tokenizer);
  rewardBase.dispose();
});

afterAll(() => rmSync(home, { recursive: true, force: true }));

const ids = () => tf.tensor2d([[5, 9, 30, 2, 77, 4]], [1, 6], "int32");

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

/** A LoRA model on the base checkpoint with non-zero B (so the adapter changes the outputs). */
async function adapted(rewardHead = false): Promise<GPT> {
  const { model } = await loadCheckpoint(rewardHead ? rewardBaseDir : baseDir, { rewardHead });
  addLora(
    model,
    { r: 4, alpha: 8, dropout: 0.05, targets: ["c_attn", "c_proj", "c_fc"] },
    { trainable: rewardHead ? ["score.weight"] : [], baseModel: rewardHead ? rewardBaseDir : baseDir },
  );
  const random = mulberry32(2);
  for (const { B } of model.lora?.modules.values() ?? []) {
    tf.tidy(() => B.assign(tf.tensor(normalSamples(B.size, 0.3, random), B.shape)));
  }
  return model;
}

describe("PEFT adapters", () => {
  it("are saved under PEFT's keys and layouts, with its LoraConfig", async () => {
    const model = await adapted();
    const dir = path.join(home, "sft-lora");
    await saveCheckpoint(dir, model, tokenizer, { trainerState: { kind: "sft", step: 3 } });
    expect(readdirSync(dir).sort()).toEqual([
      "adapter_config.json",
      "adapter_model.safetensors",
      "special_tokens_map.json",
      "tokenizer.json",
      "tokenizer_config.json",
      "trainer_state.json",
    ]);
    const json = JSON.parse(readFileSync(path.join(dir, "adapter_config.json"), "utf8"));
    expect(json).toMatchObject({
      peft_type: "LORA",
      task_type: "CAUSAL_LM",
      base_model_name_or_path: baseDir,
      r: 4,
      lora_alpha: 8,
      lora_dropout: 0.05,
      target_modules: ["c_attn", "c_proj", "c_fc"],
      fan_in_fan_out: true,
      bias: "none",
      modules_to_save: null,
    });
    const saved = await readSafetensors(path.join(dir, "adapter_model.safetensors"));
    expect(saved.metadata).toEqual({ format: "pt" });
    const d = config.nEmbd;
    const shapes = Object.fromEntries([...saved.tensors].map(([k, t]) => [k, t.shape]));
    expect(Object.keys(shapes).length).toBe(2 * 4 * config.nLayer);
    expect(shapes["base_model.model.transformer.h.0.attn.c_attn.lora_A.weight"]).toEqual([4, d]);
    expect(shapes["base_model.model.transformer.h.0.attn.c_attn.lora_B.weight"]).toEqual([3 * d, 4]);
    expect(shapes["base_model.model.transformer.h.1.mlp.c_fc.lora_B.weight"]).toEqual([4 * d, 4]);
    expect(shapes["base_model.model.transformer.h.1.mlp.c_proj.lora_A.weight"]).toEqual([4, 4 * d]);
    // lora_B.weight is Bᵀ: entry [o, k] of the file is B[k, o] here.
    const fileB = saved.tensors.get("base_model.model.transformer.h.0.attn.c_proj.lora_B.weight");
    const B = model.lora?.modules.get("h.0.attn.c_proj")?.B.dataSync() as Float32Array;
    expect(fileB?.data[1 * 4 + 2]).toBe(B[2 * d + 1]);
    model.dispose();
  });

  it("load back to the same outputs, and merged for inference within float tolerance", async () => {
    const model = await adapted();
    const dir = path.join(home, "roundtrip");
    await saveCheckpoint(dir, model, tokenizer);
    const tokens = ids();
    const expected = model.forward(tokens).logits as tf.Tensor;
    const loaded = await loadCheckpoint(dir);
    expect(loaded.model.lora?.settings).toEqual(model.lora?.settings);
    expect([...loaded.model.trainableParams().keys()].every((n) => n.includes(".lora_"))).toBe(true);
    const again = loaded.model.forward(tokens).logits as tf.Tensor;
    expect(maxAbsDiff(expected, again)).toBe(0);
    const frozen = await loadCheckpoint(dir, { trainable: false });
    expect(frozen.model.lora).toBeUndefined();
    expect(frozen.model.trainableVariables()).toEqual([]);
    const merged = frozen.model.forward(tokens).logits as tf.Tensor;
    expect(maxAbsDiff(expected, merged)).toBeLessThan(1e-4);
    tf.dispose([tokens, expected, again, merged]);
    for (const m of [model, loaded.model, frozen.model]) m.dispose();
  });

  it("keep a reward model's score head as modules_to_save", async () => {
    const model = await adapted(true);
    tf.tidy(() => model.param("score.weight").assign(tf.fill([config.nEmbd, 1], 0.25)));
    const dir = path.join(home, "reward-lora");
    await saveCheckpoint(dir, model, tokenizer);
    const json = JSON.parse(readFileSync(path.join(dir, "adapter_config.json"), "utf8"));
    expect(json.task_type).toBe("SEQ_CLS");
    expect(json.modules_to_save).toEqual(["score"]);
    const saved = await readSafetensors(path.join(dir, "adapter_model.safetensors"));
    expect(saved.tensors.get("base_model.model.score.weight")?.shape).toEqual([1, config.nEmbd]);
    await expect(loadCheckpoint(dir)).rejects.toThrow(/score head .* load it with rewardHead/);
    const loaded = await loadCheckpoint(dir, { rewardHead: true });
    const tokens = ids();
    const a = model.forward(tokens).scores as tf.Tensor;
    const b = loaded.model.forward(tokens).scores as tf.Tensor;
    expect(maxAbsDiff(a, b)).toBe(0);
    expect([...loaded.model.trainableParams().keys()]).toContain("score.weight");
    tf.dispose([tokens, a, b]);
    model.dispose();
    loaded.model.dispose();
  });

  it("rlhf merge writes a full checkpoint equal to adapter + base", async () => {
    const model = await adapted();
    const dir = path.join(home, "to-merge");
    await saveCheckpoint(dir, model, tokenizer);
    const out = path.join(home, "merged");
    await mergeCommand(dir, { out });
    expect(existsSync(path.join(out, "config.json"))).toBe(true);
    expect(existsSync(path.join(out, "adapter_config.json"))).toBe(false);
    const merged = await loadCheckpoint(out);
    expect(merged.model.lora).toBeUndefined();
    const tokens = ids();
    const a = model.forward(tokens).logits as tf.Tensor;
    const b = merged.model.forward(tokens).logits as tf.Tensor;
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-4);
    tf.dispose([tokens, a, b]);
    model.dispose();
    merged.model.dispose();
    await expect(mergeCommand(baseDir, { out: path.join(home, "x") })).rejects.toThrow(
      /adapter_config.json.*not a LoRA adapter/,
    );
  });

  it("rlhf serve answers from an adapter directory and its base", async () => {
    const model = await adapted();
    const dir = path.join(home, "served-lora");
    await saveCheckpoint(dir, model, tokenizer);
    const served = await loadServedModel(dir, { backend: "wasm" });
    expect(served.name).toBe("served-lora");
    expect(served.model.lora).toBeUndefined(); // merged in at load
    const tokens = ids();
    const a = model.forward(tokens).logits as tf.Tensor;
    const b = served.model.forward(tokens).logits as tf.Tensor;
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-4);
    tf.dispose([tokens, a, b]);
    model.dispose();
    const server = await startServer(served, { port: 0 });
    try {
      const response = await fetch(`${server.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "served-lora", prompt: "the cat", max_tokens: 3, temperature: 0 }),
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as {
        choices: { text: string }[];
        usage: { completion_tokens: number };
      };
      expect(body.usage.completion_tokens).toBeGreaterThan(0);
    } finally {
      await server.close();
      served.model.dispose();
    }
  });

  it("errors name the key, the field or the missing base, and touch nothing", async () => {
    const model = await adapted();
    const dir = path.join(home, "broken");
    await saveCheckpoint(dir, model, tokenizer);
    model.dispose();
    const configFile = path.join(dir, "adapter_config.json");
    const good = readFileSync(configFile, "utf8");
    writeFileSync(configFile, good.replace('"use_dora": false', '"use_dora": true'));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/"use_dora" is true; only false is supported/);
    writeFileSync(configFile, good.replace('"r": 4', '"r": 3'));
    await expect(loadCheckpoint(dir)).rejects.toThrow(
      /h\.0\.attn\.c_attn\.lora_A\.weight: expected shape \[3,16\], got \[4,16\]/,
    );
    writeFileSync(configFile, good.replace(JSON.stringify(baseDir), "null"));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/names no base_model_name_or_path: give the base/);
    const viaOverride = await loadCheckpoint(dir, { baseModel: baseDir });
    expect(viaOverride.model.lora).toBeDefined();
    viaOverride.model.dispose();
    writeFileSync(configFile, good.replace(JSON.stringify(baseDir), JSON.stringify(path.join(home, "gone"))));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/is not a checkpoint directory here/);
  });
});

/** Runs a job of `kind` to the end on the preference database; its final checkpoint's directory. */
async function trainToFinalCheckpoint(kind: "reward" | "dpo", name: string, config: Record<string, unknown>) {
  const [run] = await db.db.insert(runs).values({ name, kind, config }).returning();
  const result = await executeRun(db, run!.id);
  expect(result.error).toBeUndefined();
  expect(result.status).toBe("succeeded");
  const [final] = await db.db
    .select()
    .from(checkpoints)
    .where(and(eq(checkpoints.runId, run!.id), eq(checkpoints.isFinal, true)));
  if (!final) throw new Error(`${name}: no final checkpoint`);
  return final.path;
}

describe("a reward model trained with lora", () => {
  it("saves a SEQ_CLS adapter with the score head, which PPO-style loading merges", async () => {
    const dir = await trainToFinalCheckpoint("reward", "rm-lora", {
      init: preferences.sftDir,
      datasets: [DEMO_DATASETS.preferences],
      lora: { r: 4, alpha: 8 },
      epochs: 1,
      batchSize: 8,
      maxLength: 64,
      learningRate: 1e-2,
      evalFraction: 0.25,
      evalEvery: 100,
      evalBatches: 1,
      checkpointEvery: 100,
      normalizeSamples: 4,
      backend: "wasm",
    });
    const json = JSON.parse(readFileSync(path.join(dir, "adapter_config.json"), "utf8"));
    expect([json.task_type, json.modules_to_save, json.base_model_name_or_path]).toEqual([
      "SEQ_CLS",
      ["score"],
      preferences.sftDir,
    ]);
    expect(existsSync(path.join(dir, "reward_normalization.json"))).toBe(true);
    const scorer = await loadCheckpoint(dir, { rewardHead: true, trainable: false });
    expect(scorer.model.lora).toBeUndefined(); // merged for scoring
    expect(scorer.rewardNormalization).toBeDefined();
    scorer.model.dispose();
  });
});

describe("DPO trained with lora", () => {
  it("trains the adapters only and saves a CAUSAL_LM adapter on the SFT policy", async () => {
    const dir = await trainToFinalCheckpoint("dpo", "dpo-lora", {
      policy: preferences.sftDir,
      datasets: [DEMO_DATASETS.preferences],
      lora: { r: 4, alpha: 8 },
      epochs: 1,
      batchSize: 8,
      maxLength: 64,
      learningRate: 1e-2,
      beta: 0.1,
      evalEvery: 100,
      evalBatches: 1,
      checkpointEvery: 100,
      backend: "wasm",
    });
    const json = JSON.parse(readFileSync(path.join(dir, "adapter_config.json"), "utf8"));
    expect([json.task_type, json.base_model_name_or_path]).toEqual(["CAUSAL_LM", preferences.sftDir]);
    const policy = await loadCheckpoint(dir);
    const sft = await loadCheckpoint(preferences.sftDir);
    for (const [name, v] of sft.model.params) expect(maxAbsDiff(v, policy.model.param(name)), name).toBe(0);
    const tokens = ids();
    const [a, b] = [policy.model, sft.model].map((m) => m.forward(tokens).logits as tf.Tensor);
    expect(maxAbsDiff(a as tf.Tensor, b as tf.Tensor)).toBeGreaterThan(0); // the adapters moved the policy
    tf.dispose([tokens, a as tf.Tensor, b as tf.Tensor]);
    policy.model.dispose();
    sft.model.dispose();
  });
});
