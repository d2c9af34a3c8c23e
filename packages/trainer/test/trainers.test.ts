import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { JobKind } from "@rlhf/core/configs";
import { seedDemo } from "@rlhf/core/demo";
import { checkpoints, metrics, runLogs, runs } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import * as tf from "@tensorflow/tfjs";
import { and, asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { loadCheckpoint, saveCheckpoint } from "../src/checkpoint";
import { type F32Tensor, writeSafetensors } from "../src/checkpoint/safetensors";
import { conversationBatch, packedBatch } from "../src/data";
import { executeRun } from "../src/jobs/execute";
import { GPT, generate, gptConfig, resizeTokenEmbeddings, toHfConfig } from "../src/model";
import {
  ASSISTANT,
  END_OF_TEXT,
  PAD,
  serializeTokenizerJson,
  tokenizerFromJson,
  trainBpe,
  USER,
} from "../src/tokenizer";
import { AdamW, clipByGlobalNorm } from "../src/train/adamw";
import { lossAndGradients } from "../src/train/lm-loop";
import { cosineLearningRate } from "../src/train/schedule";
import { saveRandomPolicy } from "./fixtures/policy";

let t: TestDatabase;
const home = mkdtempSync(path.join(os.tmpdir(), "rlhf-trainers-"));

beforeAll(async () => {
  process.env.RLHF_HOME = home; // run directories (checkpoints) go here
  await initBackend("wasm");
  t = await createTestDatabase();
  await seedDemo(t.db, { corpusSize: 300, sftSize: 120 });
});
afterAll(async () => t?.drop());

const tinyModel = { preset: "tiny", nLayer: 1, nEmbd: 32, nHead: 2, nPositions: 64 };
const pretrainConfig = (extra: Record<string, unknown> = {}) => ({
  model: tinyModel,
  tokenizer: { vocabSize: 300 },
  maxSteps: 12,
  batchSize: 4,
  blockSize: 32,
  evalEvery: 6,
  evalBatches: 1,
  checkpointEvery: 6,
  warmupSteps: 2,
  learningRate: 3e-3,
  samplePrompts: ["The park"],
  sampleMaxTokens: 4,
  backend: "wasm",
  ...extra,
});

const sftConfig = (extra: Record<string, unknown>) => ({
  maxSteps: 6,
  batchSize: 4,
  maxLength: 63,
  evalEvery: 3,
  evalBatches: 1,
  checkpointEvery: 3,
  samplePrompts: ["Tell me about the park."],
  sampleMaxTokens: 4,
  backend: "wasm",
  ...extra,
});

async function launch(kind: JobKind, config: Record<string, unknown>, name = `${kind}-${Math.random()}`) {
  const [run] = await t.db.insert(runs).values({ name, kind, config }).returning();
  return run!;
}

/** The tasks a generate run stored: prompt, round and responses in display order, in a stable order. */
async function generatedTasks(runId: string) {
  const { rows } = await t.pool.query(
    `select t.prompt, t.metadata->>'round' as round,
       array_agg(c.response order by tc.position) as responses
     from comparison_tasks t
     join task_completions tc on tc.task_id = t.id join completions c on c.id = tc.completion_id
     where t.metadata->>'generatedBy' = $1
     group by t.id order by t.prompt, round`,
    [runId],
  );
  return rows;
}

async function series(runId: string, key: string) {
  const rows = await t.db
    .select({ step: metrics.step, value: metrics.value })
    .from(metrics)
    .where(and(eq(metrics.runId, runId), eq(metrics.key, key)))
    .orderBy(asc(metrics.step));
  return rows;
}

describe("pretraining", () => {
  it("trains, logs the issue's metrics, samples and checkpoints, and leaks no tensors", async () => {
    const before = tf.memory().numTensors;
    const run = await launch("pretrain", pretrainConfig());
    const result = await executeRun(t, run.id);
    expect(result.error).toBeUndefined();
    expect(result.status).toBe("succeeded");
    expect(tf.memory().numTensors).toBe(before);

    const loss = await series(run.id, "loss");
    expect(loss.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(loss.at(-1)!.value).toBeLessThan(loss[0]!.value);
    for (const key of ["lr", "grad_norm", "perf/tokens_per_sec", "eval/loss", "eval/bits_per_byte"]) {
      expect((await series(run.id, key)).length, key).toBeGreaterThan(0);
    }
    const bpb = await series(run.id, "eval/bits_per_byte");
    expect(bpb.map((p) => p.step)).toEqual([6, 12]);
    // The references beside the model: the 5-gram baseline before the first step, the compression fact at the end.
    const ngram = await series(run.id, "eval/ngram_bits_per_byte");
    expect(ngram.map((p) => p.step)).toEqual([0]);
    expect(ngram[0]!.value).toBeGreaterThan(0);
    expect(ngram[0]!.value).toBeLessThan(16);
    const compressed = await series(run.id, "compress/bits_per_byte");
    expect(compressed.map((p) => p.step)).toEqual([12]);
    expect(compressed[0]!.value).toBeGreaterThan(0);
    expect((await series(run.id, "compress/gzip_bits_per_byte"))[0]!.value).toBeGreaterThan(0);
    expect((await series(run.id, "compress/bytes"))[0]!.value).toBeGreaterThan(0);
    const saved = await t.db
      .select()
      .from(checkpoints)
      .where(eq(checkpoints.runId, run.id))
      .orderBy(asc(checkpoints.step));
    expect(saved.map((c) => [c.step, c.isFinal])).toEqual([
      [6, false],
      [12, true],
    ]);
    const [row] = await t.db.select().from(runs).where(eq(runs.id, run.id));
    expect(row!.status).toBe("succeeded");
    expect(row!.backend).toBe("wasm");
    const { rows } = await t.pool.query("select count(*)::int as n from samples where run_id = $1", [run.id]);
    expect(rows[0].n).toBe(2);
  });

  it("resumes exactly: an interrupted run continues with the same loss curve as an uninterrupted one", async () => {
    const whole = await launch("pretrain", pretrainConfig({ checkpointEvery: 4 }));
    await executeRun(t, whole.id);

    const interrupted = await launch("pretrain", pretrainConfig({ checkpointEvery: 4 }));
    const controller = new AbortController();
    const first = await executeRun(t, interrupted.id, {
      signal: controller.signal,
      onProgress: (step) => {
        if (step === 5) controller.abort("shutdown");
      },
    });
    expect(first.status).toBe("requeued");
    const [requeued] = await t.db.select().from(runs).where(eq(runs.id, interrupted.id));
    expect(requeued!.status).toBe("queued");
    const second = await executeRun(t, interrupted.id);
    expect(second.status).toBe("succeeded");

    const a = await series(whole.id, "loss");
    const b = await series(interrupted.id, "loss");
    expect(b.map((p) => p.step)).toEqual(a.map((p) => p.step));
    for (const [i, p] of a.entries()) expect(b[i]!.value, `step ${p.step}`).toBeCloseTo(p.value, 5);
  });

  it("resumes an interrupted generate run after the tasks it stored: each task once, as an uninterrupted run writes them", async () => {
    const policy = path.join(home, "generate-policy");
    await saveRandomPolicy(policy, { nLayer: 1, nEmbd: 32, nHead: 2, nPositions: 64 });
    // 6 prompts × 2 rounds = 12 tasks of 2 completions, stored in batches of 8 tasks.
    const generateConfig = (dataset: string) => ({
      checkpoint: policy,
      prompts: "demo-prompts",
      split: "train",
      maxPrompts: 6,
      rounds: 2,
      completionsPerPrompt: 2,
      maxNewTokens: 6,
      temperature: 1,
      seed: 5,
      dataset,
    });
    const whole = await launch("generate", generateConfig("generated-whole"));
    expect((await executeRun(t, whole.id)).status).toBe("succeeded");

    const interrupted = await launch("generate", generateConfig("generated-resumed"));
    const controller = new AbortController();
    const first = await executeRun(t, interrupted.id, {
      signal: controller.signal,
      onProgress: (done) => {
        if (done >= 8) controller.abort("shutdown");
      },
    });
    expect(first.status).toBe("requeued");
    expect(await generatedTasks(interrupted.id)).toHaveLength(8);
    const second = await executeRun(t, interrupted.id);
    expect(second.status).toBe("succeeded");

    const resumed = await generatedTasks(interrupted.id);
    expect(resumed).toHaveLength(12);
    expect(resumed).toEqual(await generatedTasks(whole.id));
  });

  it("with two data-parallel workers follows the single-thread loss curve", async () => {
    const single = await launch(
      "pretrain",
      pretrainConfig({ maxSteps: 5, evalEvery: 5, checkpointEvery: 5, workers: 1 }),
    );
    await executeRun(t, single.id);
    const parallel = await launch(
      "pretrain",
      pretrainConfig({ maxSteps: 5, evalEvery: 5, checkpointEvery: 5, workers: 2 }),
    );
    const result = await executeRun(t, parallel.id);
    expect(result.error).toBeUndefined();
    const a = await series(single.id, "loss");
    const b = await series(parallel.id, "loss");
    expect(b.map((p) => p.step)).toEqual([1, 2, 3, 4, 5]);
    for (const [i, p] of a.entries()) expect(b[i]!.value, `step ${p.step}`).toBeCloseTo(p.value, 3);
  });

  it("fails clearly on a dataset that does not exist, and on a NaN loss without writing a checkpoint", async () => {
    const missing = await launch("pretrain", pretrainConfig({ dataset: "no-such-corpus" }));
    const r1 = await executeRun(t, missing.id);
    expect(r1.status).toBe("failed");
    expect(r1.error).toMatch(/dataset "no-such-corpus" does not exist/);

    // A checkpoint whose weights hold a NaN makes the very first loss NaN.
    const tokenizer = trainBpe(["the park was lovely"], { vocabSize: 260 });
    const poisoned = new GPT(
      gptConfig("tiny", { nLayer: 1, nEmbd: 32, nHead: 2, nPositions: 64, vocabSize: tokenizer.vocabSize }),
      { seed: 1 },
    );
    poisoned.param("ln_f.weight").assign(tf.fill([32], Number.NaN));
    const poisonedDir = path.join(home, "poisoned");
    await saveCheckpoint(poisonedDir, poisoned, tokenizer);
    poisoned.dispose();
    const exploding = await launch("pretrain", pretrainConfig({ init: poisonedDir, checkpointEvery: 1 }));
    const r2 = await executeRun(t, exploding.id);
    expect(r2.status).toBe("failed");
    expect(r2.error).toMatch(/loss is NaN at step 1/);
    const [row] = await t.db.select().from(runs).where(eq(runs.id, exploding.id));
    expect(row!.status).toBe("failed");
    expect(row!.logTail).toContain("loss is NaN");
    const saved = await t.db.select().from(checkpoints).where(eq(checkpoints.runId, exploding.id));
    expect(saved).toEqual([]);
  });
});

describe("SFT", () => {
  it("fine-tunes a pretrained checkpoint on the response tokens and leaks no tensors", async () => {
    const base = await launch(
      "pretrain",
      pretrainConfig({ maxSteps: 4, evalEvery: 4, checkpointEvery: 4 }),
      "sft-base",
    );
    await executeRun(t, base.id);
    const before = tf.memory().numTensors;
    const run = await launch("sft", sftConfig({ init: "run:sft-base", maxSteps: 6 }));
    const result = await executeRun(t, run.id);
    expect(result.error).toBeUndefined();
    expect(result.status).toBe("succeeded");
    expect(tf.memory().numTensors).toBe(before);
    expect((await series(run.id, "loss")).length).toBe(6);
    expect((await series(run.id, "eval/mean_token_accuracy")).length).toBe(2);
  });

  it("gives a base model without chat tokens (a GPT-2 from the hub) the chat format: new tokens, more embedding rows, old logits kept", async () => {
    // A foreign base: its tokenizer knows end of text only, like GPT-2's.
    const foreign = trainBpe(["the park was lovely and the lake was wonderful, a happy day"], {
      vocabSize: 280,
      specialTokens: [END_OF_TEXT],
    });
    expect(foreign.userId).toBeUndefined();
    expect(foreign.hasDistinctPad).toBe(false);
    const base = new GPT(gptConfig("tiny", { ...tinyModel, vocabSize: foreign.vocabSize }), { seed: 3 });
    const dir = path.join(home, "foreign-base");
    await saveCheckpoint(dir, base, foreign);

    // The tokenizer part: three special tokens after the last id, plain text encoded as before.
    const { tokenizer: chat, added } = foreign.withChatTokens();
    expect(added).toEqual([PAD, USER, ASSISTANT]);
    expect([chat.padId, chat.userId, chat.assistantId]).toEqual([0, 1, 2].map((i) => foreign.vocabSize + i));
    expect(chat.eosId).toBe(foreign.eosId);
    expect(chat.encode("the lake was lovely")).toEqual(foreign.encode("the lake was lovely"));
    expect(chat.withChatTokens().added).toEqual([]);
    expect(tokenizerFromJson(JSON.parse(serializeTokenizerJson(chat))).userId).toBe(chat.userId);

    // The model part: the old tokens' logits are unchanged, the new rows are there and apart.
    const ids = tf.tensor2d([foreign.encode("the park was")], undefined, "int32");
    const before = base.forward(ids).logits!;
    const grown = resizeTokenEmbeddings(base, chat.vocabSize);
    const after = grown.forward(ids).logits!;
    expect(after.shape[2]).toBe(chat.vocabSize);
    const oldPart = after.slice([0, 0, 0], [-1, -1, foreign.vocabSize]);
    expect(tf.max(tf.abs(tf.sub(oldPart, before))).dataSync()[0]).toBeLessThan(1e-5);
    const rows = grown.param("wte.weight").slice([foreign.vocabSize, 0], [3, -1]).arraySync() as number[][];
    expect(rows[0]).not.toEqual(rows[1]);
    tf.dispose([ids, before, after, oldPart]);
    grown.dispose();

    // SFT from it: the run adds them, says so, and its checkpoint carries them.
    const run = await launch("sft", sftConfig({ init: dir, maxSteps: 3 }));
    const result = await executeRun(t, run.id);
    expect(result.error).toBeUndefined();
    expect(result.status).toBe("succeeded");
    const logs = await t.db.select().from(runLogs).where(eq(runLogs.runId, run.id));
    expect(logs.map((l) => l.message).join("\n")).toContain(
      `added <|pad|>, <|user|>, <|assistant|> (ids ${foreign.vocabSize}–${foreign.vocabSize + 2}); embedding table ${foreign.vocabSize} → ${foreign.vocabSize + 3} rows`,
    );
    const [saved] = await t.db.select().from(checkpoints).where(eq(checkpoints.runId, run.id));
    const tuned = await loadCheckpoint(saved!.path);
    expect(tuned.model.config.vocabSize).toBe(foreign.vocabSize + 3);
    expect(tuned.tokenizer.formatChat("Tell me about the park.").ids[0]).toBe(chat.userId);
    tuned.model.dispose();
  });

  it("masks the prompt and the padding out of the loss", () => {
    const batch = conversationBatch(
      [
        { ids: [2, 10, 11, 3, 20, 21, 0], responseStart: 4 },
        { ids: [2, 12, 3, 22, 0], responseStart: 3 },
      ],
      1,
      true,
    );
    expect(batch.length).toBe(6);
    // Row 0: targets 10 11 3 20 21 0 → the response tokens 20 21 and eos count.
    expect(Array.from(batch.mask!.slice(0, 6))).toEqual([0, 0, 0, 1, 1, 1]);
    // Row 1: targets 12 3 22 0 pad pad → 22 and eos count; padding never does.
    expect(Array.from(batch.mask!.slice(6))).toEqual([0, 0, 1, 1, 0, 0]);
    expect(Array.from(batch.x.slice(6))).toEqual([2, 12, 3, 22, 1, 1]);
    expect(batch.tokens).toBe(5);
  });
});

describe("training building blocks", () => {
  it("AdamW matches a plain-loop reference (bias correction, decoupled decay on matrices only)", () => {
    const w = tf.variable(
      tf.tensor2d([
        [0.5, -1],
        [2, 0.1],
      ]),
      true,
      "adamw-test/w",
    );
    const b = tf.variable(tf.tensor1d([0.3, -0.2]), true, "adamw-test/b");
    const params = new Map<string, tf.Variable>([
      ["w", w],
      ["b", b],
    ]);
    const opt = { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1 };
    const adam = new AdamW(params, opt);
    const ref = { w: [0.5, -1, 2, 0.1], b: [0.3, -0.2] };
    const m = { w: [0, 0, 0, 0], b: [0, 0] };
    const v = { w: [0, 0, 0, 0], b: [0, 0] };
    const gradsSeq = [
      { w: [0.1, -0.2, 0.3, 0.05], b: [1, -1] },
      { w: [-0.3, 0.1, 0.2, 0.0], b: [0.5, 0.25] },
      { w: [0.2, 0.2, -0.1, 0.4], b: [-1, 2] },
    ];
    for (const [i, g] of gradsSeq.entries()) {
      const lr = 0.01 * (i + 1);
      const grads = new Map<string, tf.Tensor>([
        ["w", tf.tensor2d(g.w, [2, 2])],
        ["b", tf.tensor1d(g.b)],
      ]);
      adam.apply(grads, lr);
      for (const t of grads.values()) t.dispose();
      for (const key of ["w", "b"] as const) {
        for (let k = 0; k < ref[key].length; k++) {
          m[key][k] = 0.9 * m[key][k]! + 0.1 * g[key][k]!;
          v[key][k] = 0.95 * v[key][k]! + 0.05 * g[key][k]! ** 2;
          const mHat = m[key][k]! / (1 - 0.9 ** (i + 1));
          const vHat = v[key][k]! / (1 - 0.95 ** (i + 1));
          const decay = key === "w" ? 0.1 : 0;
          ref[key][k] = ref[key][k]! * (1 - lr * decay) - (lr * mHat) / (Math.sqrt(vHat) + 1e-8);
        }
      }
    }
    const got = { w: Array.from(w.dataSync()), b: Array.from(b.dataSync()) };
    for (const key of ["w", "b"] as const)
      for (const [k, x] of ref[key].entries()) expect(got[key][k]).toBeCloseTo(x, 5);
    adam.dispose();
    w.dispose();
    b.dispose();
  });

  it("clips by global norm and reports the norm before clipping", () => {
    const grads = new Map<string, tf.Tensor>([
      ["a", tf.tensor1d([3, 0])],
      ["b", tf.tensor1d([0, 4])],
    ]);
    const norm = clipByGlobalNorm(grads, 1);
    expect(norm).toBeCloseTo(5, 5);
    expect(Array.from(grads.get("a")!.dataSync())[0]).toBeCloseTo(0.6, 4);
    expect(Array.from(grads.get("b")!.dataSync())[1]).toBeCloseTo(0.8, 4);
    for (const g of grads.values()) g.dispose();
  });

  it("warms up linearly, then decays by cosine to the minimum", () => {
    const o = { peak: 1, min: 0.1, warmupSteps: 10, totalSteps: 110 };
    expect(cosineLearningRate(0, o)).toBeCloseTo(0.1);
    expect(cosineLearningRate(9, o)).toBeCloseTo(1);
    expect(cosineLearningRate(60, o)).toBeCloseTo(0.55);
    expect(cosineLearningRate(110, o)).toBeCloseTo(0.1);
    expect(cosineLearningRate(500, o)).toBeCloseTo(0.1);
  });

  it("keeps tf.memory().numTensors flat across optimiser steps", () => {
    const model = new GPT(
      gptConfig("tiny", { nLayer: 1, nEmbd: 32, nHead: 2, vocabSize: 64, nPositions: 16 }),
      { seed: 1 },
    );
    const adam = new AdamW(model.params, { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1 });
    const stream = Int32Array.from({ length: 400 }, (_, i) => (i * 7) % 64);
    const step = (s: number) => {
      const { grads } = lossAndGradients(model, packedBatch(stream, 2, 16, 0, s));
      clipByGlobalNorm(grads, 1);
      adam.apply(grads, 1e-3);
      for (const g of grads.values()) g.dispose();
    };
    step(0);
    const warm = tf.memory().numTensors;
    step(1);
    step(2);
    expect(tf.memory().numTensors).toBe(warm);
    adam.dispose();
    model.dispose();
  });

  it("over-fits a tiny corpus to a loss near zero", () => {
    const model = new GPT(
      gptConfig("tiny", { nLayer: 2, nEmbd: 64, nHead: 2, vocabSize: 32, nPositions: 16 }),
      { seed: 3 },
    );
    const adam = new AdamW(model.params, { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0 });
    const stream = Int32Array.from([5, 9, 2, 7, 1, 3, 8, 4, 6, 0, 11, 13, 12, 10, 15, 14, 17, 16, 19, 18]);
    let loss = Number.POSITIVE_INFINITY;
    for (let s = 0; s < 150 && loss > 0.05; s++) {
      const out = lossAndGradients(model, packedBatch(stream, 4, 12, 0, s));
      loss = out.loss;
      adam.apply(out.grads, 3e-3);
      for (const g of out.grads.values()) g.dispose();
    }
    expect(loss).toBeLessThan(0.1);
    adam.dispose();
    model.dispose();
  });
});

describe("checkpoints", () => {
  it("save → load gives bit-identical logits, with the optimiser state", async () => {
    const tokenizer = trainBpe(["the park was lovely and the lake was wonderful"], { vocabSize: 270 });
    const model = new GPT(
      gptConfig("tiny", { nLayer: 1, nEmbd: 32, nHead: 2, vocabSize: tokenizer.vocabSize, nPositions: 32 }),
      {
        seed: 9,
        rewardHead: true,
      },
    );
    const adam = new AdamW(model.params, { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1 });
    const dir = path.join(home, "ckpt-roundtrip");
    await saveCheckpoint(dir, model, tokenizer, {
      optimizerState: adam.stateTensors(),
      trainerState: { kind: "test", step: 7 },
    });
    const loaded = await loadCheckpoint(dir, { withOptimizer: true, rewardHead: true });
    const ids = tf.tensor2d([tokenizer.encode("the park was lovely")], undefined, "int32");
    const a = model.forward(ids);
    const b = loaded.model.forward(ids);
    expect(Array.from(b.logits!.dataSync())).toEqual(Array.from(a.logits!.dataSync()));
    expect(Array.from(b.scores!.dataSync())).toEqual(Array.from(a.scores!.dataSync()));
    expect(loaded.trainerState?.step).toBe(7);
    expect(loaded.optimizerState?.size).toBe(2 * model.params.size);
    expect(loaded.tokenizer.encode("lovely lake")).toEqual(tokenizer.encode("lovely lake"));
    tf.dispose([ids, a.logits!, a.hidden!, a.scores!, b.logits!, b.hidden!, b.scores!]);
    for (const x of loaded.optimizerState!.values()) x.dispose();
    loaded.model.dispose();
    adam.dispose();
    model.dispose();
  });

  it("loads a GPT-2 directory as the Hugging Face hub has it (transformer. prefix, lm_head, attention buffers) and generates", async () => {
    const tokenizer = trainBpe(["the park was lovely and the lake was wonderful"], { vocabSize: 270 });
    const config = gptConfig("tiny", {
      nLayer: 2,
      nEmbd: 32,
      nHead: 2,
      vocabSize: tokenizer.vocabSize,
      nPositions: 32,
    });
    const original = new GPT(config, { seed: 5 });
    const dir = path.join(home, "hub-gpt2");
    const tensors: Record<string, F32Tensor> = {};
    for (const [name, w] of original.namedWeights()) {
      tensors[`transformer.${name}`] = { dtype: "F32", shape: w.shape, data: w.dataSync() as Float32Array };
    }
    const wte = original.param("wte.weight");
    tensors["lm_head.weight"] = { dtype: "F32", shape: wte.shape, data: wte.dataSync() as Float32Array };
    for (let layer = 0; layer < config.nLayer; layer++) {
      const causal = new Float32Array(32 * 32).map((_, i) => (i % 32 <= Math.floor(i / 32) ? 1 : 0));
      tensors[`transformer.h.${layer}.attn.bias`] = { dtype: "F32", shape: [1, 1, 32, 32], data: causal };
    }
    mkdirSync(dir, { recursive: true });
    await writeSafetensors(path.join(dir, "model.safetensors"), tensors);
    // GPT-2's config.json has no pad token.
    writeFileSync(
      path.join(dir, "config.json"),
      JSON.stringify({ ...toHfConfig(config, { eosTokenId: 0, bosTokenId: 0 }), pad_token_id: null }),
    );
    writeFileSync(path.join(dir, "tokenizer.json"), serializeTokenizerJson(tokenizer));

    const loaded = await loadCheckpoint(dir);
    const prompt = [tokenizer.encode("the park")];
    const options = {
      maxNewTokens: 8,
      greedy: true,
      eosTokenId: tokenizer.eosId,
      padTokenId: tokenizer.padId,
    };
    const a = await generate(original, prompt, options);
    const b = await generate(loaded.model, prompt, options);
    expect(b.tokens).toEqual(a.tokens);
    expect(a.tokens[0]!.length).toBeGreaterThan(0);
    loaded.model.dispose();
    original.dispose();
  });
});
