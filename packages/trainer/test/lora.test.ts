/**
 * LoRA on the GPT: a fresh adapter (B = 0) is the base exactly; merged equals unmerged; gradients reach
 * only the adapters (and a kept head); the adapter gradient against finite differences; a frozen weight's
 * op gives the same input gradient as the trainable one; adapters off is the base; targets as PEFT matches
 * them; no tensor growth across steps; SFT with a lora block through the one training loop (PEFT adapter
 * checkpoints naming their base, the base untouched). wasm backend, real PostgreSQL for the run.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { seedDemo } from "@rlhf/core/demo";
import { checkpoints, runLogs, runs } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import * as tf from "@tensorflow/tfjs";
import { asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { loadCheckpoint } from "../src/checkpoint";
import { executeRun } from "../src/jobs/execute";
import {
  addLora,
  GPT,
  type GPTConfig,
  generate,
  type LoraSettings,
  linear,
  loraTargetModules,
  maskedCrossEntropy,
  mergeLora,
  mulberry32,
  normalSamples,
  resizeTokenEmbeddings,
  tiedLinear,
  withoutAdapters,
} from "../src/model";

beforeAll(async () => {
  expect((await initBackend("wasm")).name).toBe("wasm");
});

const config: GPTConfig = {
  vocabSize: 13,
  nPositions: 8,
  nEmbd: 8,
  nLayer: 2,
  nHead: 2,
  layerNormEpsilon: 1e-5,
  initializerRange: 0.3,
};
const settings: LoraSettings = { r: 2, alpha: 4, dropout: 0, targets: ["c_attn", "c_proj", "c_fc"] };
const ids = () =>
  tf.tensor2d(
    [
      [1, 5, 7, 2, 9, 3],
      [4, 4, 12, 0, 6, 8],
    ],
    [2, 6],
    "int32",
  );

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

/** Give every B random values, so the adapters change the model. */
function randomiseB(model: GPT, seed = 1): void {
  const random = mulberry32(seed);
  for (const { B } of model.lora?.modules.values() ?? []) {
    tf.tidy(() => B.assign(tf.tensor(normalSamples(B.size, 0.5, random), B.shape)));
  }
}

function loss(model: GPT, tokens: tf.Tensor): tf.Scalar {
  const { logits } = model.forward(tokens, { training: true, returnHidden: false });
  const targets = tf.concat([tf.slice(tokens, [0, 1], [-1, -1]), tf.zeros([2, 1], "int32")], 1);
  return maskedCrossEntropy(logits as tf.Tensor, targets);
}

describe("LoRA adapters", () => {
  it("match PEFT's targets: c_proj adapts both projections, an unknown target is named", () => {
    expect(loraTargetModules(config, ["c_attn"])).toEqual(["h.0.attn.c_attn", "h.1.attn.c_attn"]);
    expect(loraTargetModules(config, ["c_proj"])).toEqual([
      "h.0.attn.c_proj",
      "h.0.mlp.c_proj",
      "h.1.attn.c_proj",
      "h.1.mlp.c_proj",
    ]);
    expect(loraTargetModules(config, ["mlp.c_proj"])).toEqual(["h.0.mlp.c_proj", "h.1.mlp.c_proj"]);
    expect(() => loraTargetModules(config, ["q_proj"])).toThrow(/"q_proj" matches no module/);
    const model = new GPT(config);
    expect(() => addLora(model, { ...settings, r: 0 })).toThrow(/lora.r must be a positive integer/);
    const adapters = addLora(model, settings);
    // c_attn [8, 24], c_proj [8, 8], c_fc [8, 32], mlp.c_proj [32, 8], r = 2, two layers.
    expect(adapters.numParams()).toBe(2 * 2 * (8 + 24 + 8 + 8 + 8 + 32 + 32 + 8));
    expect(adapters.namedVariables().get("h.1.mlp.c_fc.lora_A.weight")?.shape).toEqual([8, 2]);
    expect(adapters.namedVariables().get("h.1.mlp.c_fc.lora_B.weight")?.shape).toEqual([2, 32]);
    model.dispose();
  });

  it("with B = 0 computes exactly the base model", () => {
    const base = new GPT(config, { seed: 3 });
    const adapted = new GPT(config, { seed: 3 });
    addLora(adapted, settings, { seed: 9 });
    const tokens = ids();
    const a = base.forward(tokens).logits as tf.Tensor;
    const b = adapted.forward(tokens).logits as tf.Tensor;
    expect(maxAbsDiff(a, b)).toBe(0);
    tf.dispose([a, b, tokens]);
    base.dispose();
    adapted.dispose();
  });

  it("with adapters off is the base; merged equals unmerged", () => {
    const base = new GPT(config, { seed: 3 });
    const model = new GPT(config, { seed: 3 });
    addLora(model, settings, { seed: 9 });
    randomiseB(model);
    const tokens = ids();
    const baseLogits = base.forward(tokens).logits as tf.Tensor;
    const off = model.forward(tokens, { adapters: false }).logits as tf.Tensor;
    const on = model.forward(tokens).logits as tf.Tensor;
    expect(maxAbsDiff(baseLogits, off)).toBe(0);
    expect(maxAbsDiff(baseLogits, on)).toBeGreaterThan(0.1); // the adapters matter
    mergeLora(model);
    expect(model.lora).toBeUndefined();
    expect(model.trainableVariables().length).toBe(model.params.size);
    const merged = model.forward(tokens).logits as tf.Tensor;
    expect(maxAbsDiff(on, merged)).toBeLessThan(1e-4);
    tf.dispose([baseLogits, off, on, merged, tokens]);
    base.dispose();
    model.dispose();
  });

  it("withoutAdapters is the reference policy: the base's outputs from the same weights, and generation too", async () => {
    const base = new GPT(config, { seed: 3 });
    const model = new GPT(config, { seed: 3 });
    addLora(model, settings, { seed: 9 });
    randomiseB(model);
    const reference = withoutAdapters(model);
    const tokens = ids();
    const a = base.forward(tokens).logits as tf.Tensor;
    const b = reference.forward(tokens).logits as tf.Tensor;
    expect(maxAbsDiff(a, b)).toBe(0);
    const prompts = [[1, 2, 3]];
    const fromBase = await generate(base, prompts, { maxNewTokens: 5, greedy: true });
    const fromView = await generate(reference, prompts, { maxNewTokens: 5, greedy: true });
    expect(fromView.tokens).toEqual(fromBase.tokens);
    reference.dispose(); // a no-op: the policy owns the weights
    expect(model.param("wte.weight").isDisposed).toBe(false);
    tf.dispose([a, b, tokens]);
    base.dispose();
    model.dispose();
  });

  it("gradients reach only the adapters and the kept head; an optimiser step leaves the base as it was", () => {
    const model = new GPT(config, { seed: 3, rewardHead: true });
    addLora(model, settings, { trainable: ["score.weight"] });
    randomiseB(model);
    const names = [...model.trainableParams().keys()];
    expect(names.filter((n) => !n.includes(".lora_"))).toEqual(["score.weight"]);
    expect(names.length).toBe(1 + 2 * 3 * config.nLayer + 2 * config.nLayer); // c_attn, c_proj x2, c_fc
    const before = new Map([...model.params].map(([n, v]) => [n, v.dataSync().slice()]));
    const tokens = ids();
    const { value, grads } = tf.variableGrads(() => {
      const out = model.forward(tokens, { training: true });
      return tf.add(loss(model, tokens), tf.sum(out.scores as tf.Tensor)) as tf.Scalar;
    }, model.trainableVariables());
    const byName = new Map([...model.trainableParams()].map(([n, v]) => [v.name, n]));
    expect(
      Object.keys(grads)
        .map((k) => byName.get(k))
        .sort(),
    ).toEqual([...names].sort());
    for (const [key, g] of Object.entries(grads)) {
      expect(tf.max(tf.abs(g)).dataSync()[0], byName.get(key)).toBeGreaterThan(0);
    }
    tf.tidy(() => {
      for (const [key, g] of Object.entries(grads)) {
        const v = model.trainableParams().get(byName.get(key) as string) as tf.Variable;
        v.assign(tf.sub(v, tf.mul(g, 0.1)));
      }
    });
    for (const [name, v] of model.params) {
      const same = name === "score.weight" || v.dataSync().every((x, k) => x === before.get(name)?.[k]);
      expect(same, name).toBe(true);
    }
    tf.dispose([value, tokens, ...Object.values(grads)]);
    model.dispose();
  });

  it("adapter gradients match central finite differences", () => {
    const model = new GPT(config, { seed: 5 });
    addLora(model, settings, { seed: 2 });
    randomiseB(model, 7);
    const tokens = ids();
    const params = model.trainableParams();
    const { grads } = tf.variableGrads(() => loss(model, tokens), model.trainableVariables());
    const gradOf = new Map([...params].map(([n, v]) => [n, grads[v.name] as tf.Tensor]));
    const eps = 1e-2;
    const lossAt = () => tf.tidy(() => loss(model, tokens).dataSync()[0] as number);
    for (const name of ["h.0.attn.c_attn.lora_A.weight", "h.1.mlp.c_proj.lora_B.weight"]) {
      const v = params.get(name) as tf.Variable;
      const analytic = (gradOf.get(name) as tf.Tensor).dataSync();
      const values = v.dataSync().slice();
      for (const k of [0, 3, values.length - 1]) {
        const probe = (delta: number) => {
          const moved = values.slice();
          moved[k] = (values[k] as number) + delta;
          tf.tidy(() => v.assign(tf.tensor(moved, v.shape)));
          return lossAt();
        };
        const numeric = (probe(eps) - probe(-eps)) / (2 * eps);
        tf.tidy(() => v.assign(tf.tensor(values, v.shape)));
        expect(Math.abs(numeric - (analytic[k] as number)), `${name}[${k}]`).toBeLessThan(
          2e-3 + 2e-2 * Math.abs(numeric),
        );
      }
    }
    tf.dispose([tokens, ...Object.values(grads)]);
    model.dispose();
  });

  it("frozen weights give the same input gradient with no weight gradient computed", () => {
    const random = mulberry32(4);
    const x = tf.tensor(normalSamples(2 * 3 * 5, 1, random), [2, 3, 5]);
    const make = (trainable: boolean) => ({
      w: tf.variable(tf.tensor(normalSamples(5 * 7, 1, mulberry32(5)), [5, 7]), trainable),
      b: tf.variable(tf.tensor(normalSamples(7, 1, mulberry32(6)), [7]), trainable),
      table: tf.variable(tf.tensor(normalSamples(11 * 7, 1, mulberry32(8)), [11, 7]), trainable),
    });
    const frozen = make(false);
    const live = make(true);
    const f = (p: ReturnType<typeof make>) => (xIn: tf.Tensor) =>
      tf.sum(
        tf.square(tiedLinear(linear(xIn, p.w as tf.Tensor2D, p.b as tf.Tensor1D), p.table as tf.Tensor2D)),
      );
    const [gFrozen] = tf.grads(f(frozen))([x]) as [tf.Tensor];
    const [gLive] = tf.grads(f(live))([x]) as [tf.Tensor];
    expect(maxAbsDiff(gFrozen, gLive)).toBeLessThan(1e-3 * (tf.max(tf.abs(gLive)).dataSync()[0] as number));
    tf.dispose([x, gFrozen, gLive, ...Object.values(frozen), ...Object.values(live)]);
  });

  it("refuses to clone or resize a model with adapters instead of dropping them", () => {
    const model = new GPT(config, { seed: 3 });
    addLora(model, settings);
    expect(() => model.clone()).toThrow(/has LoRA adapters, which a clone would drop; .* withoutAdapters/);
    expect(() => resizeTokenEmbeddings(model, config.vocabSize + 2)).toThrow(
      /add tokens before attaching them/,
    );
    expect(() => addLora(model, settings)).toThrow(/already has LoRA adapters/);
    model.dispose();
  });

  it("dropout acts in training passes only", () => {
    const model = new GPT(config, { seed: 3 });
    addLora(model, { ...settings, dropout: 0.5 });
    randomiseB(model);
    const tokens = ids();
    const evalA = model.forward(tokens).logits as tf.Tensor;
    const evalB = model.forward(tokens).logits as tf.Tensor;
    const train = model.forward(tokens, { training: true }).logits as tf.Tensor;
    expect(maxAbsDiff(evalA, evalB)).toBe(0);
    expect(maxAbsDiff(evalA, train)).toBeGreaterThan(0);
    tf.dispose([evalA, evalB, train, tokens]);
    model.dispose();
  });

  it("keeps the tensor count across training steps; dispose frees the adapters", () => {
    const model = new GPT(config, { seed: 3 });
    addLora(model, settings);
    const tokens = ids();
    const step = () => {
      const { value, grads } = tf.variableGrads(() => loss(model, tokens), model.trainableVariables());
      tf.tidy(() => {
        for (const v of model.trainableVariables())
          v.assign(tf.sub(v, tf.mul(grads[v.name] as tf.Tensor, 0.01)));
      });
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const count = tf.memory().numTensors;
    step();
    step();
    expect(tf.memory().numTensors).toBe(count);
    tokens.dispose();
    const a = model.lora?.modules.get("h.0.attn.c_attn")?.A as tf.Variable;
    model.dispose();
    expect(a.isDisposed).toBe(true);
  });
});

describe("SFT with lora", () => {
  let t: TestDatabase;
  const home = mkdtempSync(path.join(os.tmpdir(), "rlhf-lora-sft-"));
  beforeAll(async () => {
    process.env.RLHF_HOME = home;
    t = await createTestDatabase();
    await seedDemo(t.db, { corpusSize: 300, sftSize: 120 });
  });
  afterAll(async () => t?.drop());

  const launch = async (kind: "pretrain" | "sft", name: string, config: Record<string, unknown>) => {
    const [run] = await t.db.insert(runs).values({ name, kind, config }).returning();
    return run!;
  };
  const finalCheckpoint = async (runId: string) => {
    const saved = await t.db
      .select()
      .from(checkpoints)
      .where(eq(checkpoints.runId, runId))
      .orderBy(asc(checkpoints.step));
    return saved[saved.length - 1]!.path;
  };

  it("trains only the adapters, saves PEFT adapters that name the base, and leaves the base as it was", async () => {
    const base = await launch("pretrain", "lora-base", {
      model: { preset: "tiny", nLayer: 1, nEmbd: 32, nHead: 2, nPositions: 64 },
      tokenizer: { vocabSize: 300 },
      maxSteps: 3,
      batchSize: 4,
      blockSize: 32,
      evalEvery: 3,
      evalBatches: 1,
      checkpointEvery: 3,
      samplePrompts: ["The park"],
      sampleMaxTokens: 4,
      backend: "wasm",
    });
    expect((await executeRun(t, base.id)).status).toBe("succeeded");
    const baseDir = await finalCheckpoint(base.id);
    const run = await launch("sft", "lora-sft", {
      init: "run:lora-base",
      lora: { r: 4, alpha: 8 },
      maxSteps: 4,
      batchSize: 4,
      maxLength: 63,
      learningRate: 1e-2,
      evalEvery: 4,
      evalBatches: 1,
      checkpointEvery: 4,
      samplePrompts: ["Tell me about the park."],
      sampleMaxTokens: 4,
      backend: "wasm",
    });
    const before = tf.memory().numTensors;
    const result = await executeRun(t, run.id);
    expect(result.error).toBeUndefined();
    expect(result.status).toBe("succeeded");
    expect(tf.memory().numTensors).toBe(before);
    const logs = await t.db.select().from(runLogs).where(eq(runLogs.runId, run.id));
    expect(logs.some((l) => /LoRA r=4 alpha=8 on 4 modules: \d+ trainable parameters/.test(l.message))).toBe(
      true,
    );
    const dir = await finalCheckpoint(run.id);
    expect(existsSync(path.join(dir, "adapter_model.safetensors"))).toBe(true);
    expect(existsSync(path.join(dir, "model.safetensors"))).toBe(false);
    const config = JSON.parse(readFileSync(path.join(dir, "adapter_config.json"), "utf8"));
    expect([config.base_model_name_or_path, config.r, config.lora_alpha]).toEqual([baseDir, 4, 8]);
    const adapted = await loadCheckpoint(dir);
    const original = await loadCheckpoint(baseDir);
    for (const [name, v] of original.model.params) {
      expect(maxAbsDiff(v, adapted.model.param(name)), name).toBe(0);
    }
    const B = adapted.model.lora?.modules.get("h.0.mlp.c_fc")?.B as tf.Variable;
    expect(tf.max(tf.abs(B)).dataSync()[0]).toBeGreaterThan(0); // trained away from PEFT's zero init
    adapted.model.dispose();
    original.model.dispose();
  });
});
