/**
 * The GPT end to end: naming and init, gradients of the whole model against tfjs autodiff of a plain
 * re-implementation, padding and the key/value cache, checkpoint loading, over-fitting a tiny corpus,
 * and tensor memory across training steps. wasm backend.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import {
  fromHfConfig,
  GPT,
  type GPTConfig,
  gptConfig,
  gptParameterShapes,
  maskedCrossEntropy,
  mulberry32,
  normalSamples,
  toHfConfig,
} from "../src/model";

beforeAll(async () => {
  expect((await initBackend("wasm")).name).toBe("wasm");
});

const small: GPTConfig = {
  vocabSize: 11,
  nPositions: 8,
  nEmbd: 8,
  nLayer: 2,
  nHead: 2,
  layerNormEpsilon: 1e-5,
  initializerRange: 0.3, // larger than GPT-2's 0.02 so that logits differ clearly between tokens
};

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] as number));
  return m;
}

/** The same model written with plain tfjs ops (one-hot products instead of gathers), for autodiff. */
function referenceLogits(
  p: Map<string, tf.Tensor>,
  config: GPTConfig,
  ids: number[][],
  mask: number[][],
): tf.Tensor {
  const get = (name: string) => p.get(name) as tf.Tensor;
  const batch = ids.length;
  const time = (ids[0] as number[]).length;
  const d = config.nEmbd;
  const hs = d / config.nHead;
  const positions = mask.map((row) => {
    let seen = 0;
    return row.map((m) => {
      seen += m;
      return Math.max(seen - 1, 0);
    });
  });
  const bias: number[] = [];
  for (let b = 0; b < batch; b++)
    for (let i = 0; i < time; i++)
      for (let j = 0; j < time; j++)
        bias.push(j <= i && ((mask[b] as number[])[j] === 1 || j === i) ? 0 : -1e9);
  const biasT = tf.tensor4d(bias, [batch, 1, time, time]);
  const layerNorm = (x: tf.Tensor, name: string) => {
    const { mean, variance } = tf.moments(x, -1, true);
    const xhat = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, config.layerNormEpsilon)));
    return tf.add(tf.mul(xhat, get(`${name}.weight`)), get(`${name}.bias`));
  };
  const dense = (x: tf.Tensor, name: string) => {
    const w = get(`${name}.weight`);
    const out = w.shape[1] as number;
    return tf
      .add(tf.matMul(x.reshape([batch * time, x.shape[2] as number]), w), get(`${name}.bias`))
      .reshape([batch, time, out]);
  };
  const gelu = (x: tf.Tensor) =>
    tf.mul(
      tf.mul(0.5, x),
      tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))),
    );
  const oneHot = (rows: number[][], depth: number) =>
    tf.oneHot(tf.tensor2d(rows, [batch, time], "int32"), depth);
  let x = tf
    .add(
      tf.matMul(oneHot(ids, config.vocabSize).reshape([batch * time, config.vocabSize]), get("wte.weight")),
      tf.matMul(
        oneHot(positions, config.nPositions).reshape([batch * time, config.nPositions]),
        get("wpe.weight"),
      ),
    )
    .reshape([batch, time, d]);
  for (let l = 0; l < config.nLayer; l++) {
    const qkv = dense(layerNorm(x, `h.${l}.ln_1`), `h.${l}.attn.c_attn`);
    const heads = (part: number) =>
      tf.transpose(
        tf.slice(qkv, [0, 0, part * d], [batch, time, d]).reshape([batch, time, config.nHead, hs]),
        [0, 2, 1, 3],
      );
    const scores = tf.add(tf.div(tf.matMul(heads(0), heads(1), false, true), Math.sqrt(hs)), biasT);
    const y = tf.transpose(tf.matMul(tf.softmax(scores), heads(2)), [0, 2, 1, 3]).reshape([batch, time, d]);
    x = tf.add(x, dense(y, `h.${l}.attn.c_proj`));
    x = tf.add(x, dense(gelu(dense(layerNorm(x, `h.${l}.ln_2`), `h.${l}.mlp.c_fc`)), `h.${l}.mlp.c_proj`));
  }
  const h = layerNorm(x, "ln_f").reshape([batch * time, d]);
  return tf.matMul(h, get("wte.weight"), false, true).reshape([batch, time, config.vocabSize]);
}

describe("parameters", () => {
  it("are named and shaped as GPT-2 checkpoints; the gpt2 preset has 124M", () => {
    const shapes = gptParameterShapes(gptConfig("gpt2"));
    let total = 0;
    for (const shape of shapes.values()) total += shape.reduce((a, b) => a * b, 1);
    expect(total).toBe(124_439_808);
    expect(shapes.get("wte.weight")).toEqual([50257, 768]);
    expect(shapes.get("wpe.weight")).toEqual([1024, 768]);
    expect(shapes.get("h.11.attn.c_attn.weight")).toEqual([768, 2304]);
    expect(shapes.get("h.0.mlp.c_proj.weight")).toEqual([3072, 768]);
    expect(shapes.get("ln_f.bias")).toEqual([768]);
    expect(shapes.size).toBe(2 + 12 * 12 + 2);
    const heads = gptParameterShapes(gptConfig("tiny"), { valueHead: true, rewardHead: true });
    expect(heads.get("v_head.weight")).toEqual([128, 1]);
    expect(heads.get("v_head.bias")).toEqual([1]);
    expect(heads.get("score.weight")).toEqual([128, 1]);
  });

  it("are initialised from the seed as GPT-2 does", () => {
    const config = gptConfig("tiny", { nLayer: 2 });
    const a = new GPT(config, { seed: 7, valueHead: true, rewardHead: true });
    const b = new GPT(config, { seed: 7, valueHead: true, rewardHead: true });
    const c = new GPT(config, { seed: 8 });
    for (const [name, p] of a.params) expect(maxAbsDiff(p.dataSync(), b.param(name).dataSync())).toBe(0);
    expect(maxAbsDiff(a.param("wte.weight").dataSync(), c.param("wte.weight").dataSync())).toBeGreaterThan(
      0.01,
    );
    const std = (name: string) => {
      const v = Array.from(a.param(name).dataSync());
      const mean = v.reduce((s, x) => s + x, 0) / v.length;
      return Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length);
    };
    expect(std("wte.weight")).toBeCloseTo(0.02, 3);
    expect(std("h.0.attn.c_attn.weight")).toBeCloseTo(0.02, 3);
    expect(std("h.1.mlp.c_proj.weight")).toBeCloseTo(0.02 / Math.sqrt(4), 3);
    expect(std("score.weight")).toBeGreaterThan(0.5 / Math.sqrt(129));
    expect(std("score.weight")).toBeLessThan(1.5 / Math.sqrt(129));
    expect(maxAbs(a.param("v_head.weight").dataSync())).toBe(0);
    expect(maxAbs(a.param("h.0.attn.c_attn.bias").dataSync())).toBe(0);
    expect(Array.from(a.param("h.0.ln_1.weight").dataSync()).every((v) => v === 1)).toBe(true);
    expect(a.numParams()).toBe(b.numParams());
    expect(a.trainableVariables((n) => n.startsWith("v_head")).length).toBe(2);
    for (const m of [a, b, c]) m.dispose();
  });
});

describe("forward", () => {
  it("returns logits, hidden, values and scores of the right shapes", () => {
    const model = new GPT(small, { seed: 1, valueHead: true, rewardHead: true });
    const out = model.forward(tf.tensor2d([[1, 2, 3]], [1, 3], "int32"));
    expect(out.logits?.shape).toEqual([1, 3, 11]);
    expect(out.hidden?.shape).toEqual([1, 3, 8]);
    expect(out.values?.shape).toEqual([1, 3]);
    expect(maxAbs(out.values?.dataSync() ?? [1])).toBe(0); // zero-initialised value head
    expect(out.scores?.shape).toEqual([1, 3]);
    const last = model.forward(tf.tensor2d([[1, 2, 3]], [1, 3], "int32"), { logits: "last" });
    expect(
      maxAbsDiff(
        last.logits?.dataSync() ?? [],
        (out.logits as tf.Tensor3D).slice([0, 2, 0], [1, 1, 11]).dataSync(),
      ),
    ).toBeLessThan(1e-6);
    expect(() => model.forward(tf.tensor2d([[1, 2, 3, 4, 5, 6, 7, 8, 9]], [1, 9], "int32"))).toThrow(
      /exceed the context of 8/,
    );
    model.dispose();
  });

  it("gradients of every parameter match autodiff of a plain re-implementation", () => {
    const model = new GPT(small, { seed: 3 });
    const ids = [
      [1, 5, 2, 7, 3, 9],
      [0, 0, 4, 4, 10, 6],
    ];
    const mask = [
      [1, 1, 1, 1, 1, 1],
      [0, 0, 1, 1, 1, 1], // left padding
    ];
    const weights = tf.tensor3d(normalSamples(2 * 6 * 11, 1, mulberry32(5)), [2, 6, 11]);
    const names = [...model.params.keys()];
    const variables = names.map((n) => model.param(n));
    const idsT = tf.tensor2d(ids, [2, 6], "int32");
    const maskT = tf.tensor2d(mask, [2, 6], "int32");
    const custom = tf.variableGrads(
      () => tf.sum(tf.mul(model.forward(idsT, { attentionMask: maskT }).logits as tf.Tensor, weights)),
      variables,
    );
    const plain = tf.grads((...ps: tf.Tensor[]) => {
      const map = new Map(names.map((n, i) => [n, ps[i] as tf.Tensor]));
      return tf.sum(tf.mul(referenceLogits(map, small, ids, mask), weights));
    })(variables);
    const reference = tf.tidy(() =>
      referenceLogits(new Map(names.map((n) => [n, model.param(n)])), small, ids, mask).dataSync(),
    );
    const logits = tf.tidy(() => model.forward(idsT, { attentionMask: maskT }).logits?.dataSync() ?? []);
    expect(maxAbsDiff(logits, reference)).toBeLessThan(1e-4);
    names.forEach((name, i) => {
      const got = custom.grads[variables[i]?.name as string]?.dataSync() ?? [];
      const want = (plain[i] as tf.Tensor).dataSync();
      const tolerance = 1e-5 + 2e-4 * maxAbs(want);
      if (maxAbsDiff(got, want) > tolerance)
        throw new Error(`${name}: gradient differs by ${maxAbsDiff(got, want)}`);
    });
    tf.dispose([custom.value, ...Object.values(custom.grads), ...plain, weights, idsT, maskT]);
    model.dispose();
  });

  it("gives a left-padded row the same logits as the sequence alone", () => {
    const model = new GPT(small, { seed: 2 });
    const alone = tf.tidy(
      () => model.forward(tf.tensor2d([[4, 8, 1]], [1, 3], "int32")).logits?.dataSync() ?? [],
    );
    const padded = tf.tidy(() => {
      const ids = tf.tensor2d(
        [
          [0, 0, 4, 8, 1],
          [3, 3, 3, 3, 3],
        ],
        [2, 5],
        "int32",
      );
      const mask = tf.tensor2d(
        [
          [0, 0, 1, 1, 1],
          [1, 1, 1, 1, 1],
        ],
        [2, 5],
        "int32",
      );
      const logits = model.forward(ids, { attentionMask: mask }).logits as tf.Tensor3D;
      return logits.slice([0, 2, 0], [1, 3, 11]).dataSync();
    });
    expect(maxAbsDiff(padded, alone)).toBeLessThan(1e-5);
    expect(Array.from(padded).every(Number.isFinite)).toBe(true);
    model.dispose();
  });

  it("with a key/value cache, step by step, reproduces the full forward", () => {
    const model = new GPT(small, { seed: 4 });
    const ids = [
      [0, 6, 2, 9, 1, 5],
      [3, 7, 7, 2, 8, 4],
    ];
    const mask = [
      [0, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 1, 1],
    ];
    const full = tf.tidy(
      () =>
        model
          .forward(tf.tensor2d(ids, [2, 6], "int32"), { attentionMask: tf.tensor2d(mask, [2, 6], "int32") })
          .logits?.arraySync() as number[][][],
    );
    // prefill 3 tokens, then one at a time
    let out = tf.tidy(() =>
      model.forward(
        tf.tensor2d(
          ids.map((r) => r.slice(0, 3)),
          [2, 3],
          "int32",
        ),
        {
          attentionMask: tf.tensor2d(
            mask.map((r) => r.slice(0, 3)),
            [2, 3],
            "int32",
          ),
          useCache: true,
        },
      ),
    );
    const stepLogits = ((out.logits as tf.Tensor).arraySync() as number[][][]).map((r) => [...r]);
    for (let t = 3; t < 6; t++) {
      const past = out;
      out = tf.tidy(() =>
        model.forward(
          tf.tensor2d(
            ids.map((r) => [r[t] as number]),
            [2, 1],
            "int32",
          ),
          {
            attentionMask: tf.tensor2d(
              mask.map((r) => r.slice(0, t + 1)),
              [2, t + 1],
              "int32",
            ),
            kvCache: past.kvCache,
          },
        ),
      );
      tf.dispose(past as unknown as tf.TensorContainer);
      const logits = out.logits?.arraySync() as number[][][];
      stepLogits.forEach((rows, b) => {
        rows.push(logits[b]?.[0] as number[]);
      });
    }
    tf.dispose(out as unknown as tf.TensorContainer);
    expect(maxAbsDiff(stepLogits.flat(2), full.flat(2))).toBeLessThan(1e-5);
    model.dispose();
  });
});

describe("checkpoints", () => {
  function checkpointOf(model: GPT): Map<string, tf.Tensor> {
    // GPT2LMHeadModel's state dict: transformer. prefix, attention buffers, tied lm_head.
    const entries = new Map<string, tf.Tensor>();
    for (const [name, t] of model.namedWeights()) entries.set(`transformer.${name}`, t);
    entries.set("transformer.h.0.attn.bias", tf.ones([1, 1, 8, 8]));
    entries.set("transformer.h.0.attn.masked_bias", tf.scalar(-1e4));
    entries.set("lm_head.weight", model.param("wte.weight"));
    return entries;
  }

  it("loads GPT-2 state dicts and reproduces the model", () => {
    const source = new GPT(small, { seed: 11, rewardHead: true });
    const target = new GPT(small, { seed: 12, rewardHead: true });
    const checkpoint = checkpointOf(source);
    // Hugging Face keeps score.weight as [1, d], outside the transformer
    checkpoint.delete("transformer.score.weight");
    checkpoint.set("score.weight", tf.transpose(source.param("score.weight")));
    const report = target.loadWeights(checkpoint);
    expect(report.loaded.length).toBe(source.params.size);
    expect(report.ignored).toEqual(
      expect.arrayContaining([
        "lm_head.weight",
        "transformer.h.0.attn.bias",
        "transformer.h.0.attn.masked_bias",
      ]),
    );
    const ids = tf.tensor2d([[1, 2, 3, 4]], [1, 4], "int32");
    const a = tf.tidy(() => source.forward(ids).scores?.dataSync() ?? []);
    const b = tf.tidy(() => target.forward(ids).scores?.dataSync() ?? []);
    expect(maxAbsDiff(a, b)).toBe(0);
    const clone = source.clone({ trainable: false });
    expect(clone.trainableVariables().length).toBe(0);
    expect(
      tf.tidy(() =>
        maxAbsDiff(clone.forward(ids).logits?.dataSync() ?? [], source.forward(ids).logits?.dataSync() ?? []),
      ),
    ).toBe(0);
    // a policy with a value head loads an LM checkpoint; its value head keeps its zeros
    const policy = new GPT(small, { valueHead: true });
    expect(policy.loadWeights(checkpointOf(source), { allowUnexpected: true }).missingHeads).toEqual([
      "v_head.weight",
      "v_head.bias",
    ]);
    tf.dispose([
      checkpoint.get("transformer.h.0.attn.bias") as tf.Tensor,
      checkpoint.get("transformer.h.0.attn.masked_bias") as tf.Tensor,
      checkpoint.get("score.weight") as tf.Tensor,
      ids,
    ]);
    for (const m of [source, target, clone, policy]) m.dispose();
  });

  it("names the tensor on a missing entry or a shape mismatch, and assigns nothing", () => {
    const model = new GPT(small, { seed: 1 });
    const before = model.param("wte.weight").dataSync().slice();
    const other = new GPT(small, { seed: 2 });
    const missing = other.namedWeights();
    missing.delete("h.1.mlp.c_fc.bias");
    expect(() => model.loadWeights(missing)).toThrow(
      /h\.1\.mlp\.c_fc\.bias: missing from the checkpoint \(expected shape \[32\]\)/,
    );
    const wrong = other.namedWeights();
    const bad = tf.zeros([8, 9]);
    wrong.set("h.0.attn.c_proj.weight", bad);
    expect(() => model.loadWeights(wrong)).toThrow(
      /h\.0\.attn\.c_proj\.weight: expected shape \[8,8\], got \[8,9\]/,
    );
    const untied = other.namedWeights();
    const head = tf.zeros([11, 8]);
    untied.set("lm_head.weight", head);
    expect(() => model.loadWeights(untied)).toThrow(/lm_head\.weight: differs from wte\.weight/);
    const extra = other.namedWeights();
    const stray = tf.zeros([2]);
    extra.set("h.0.attn.rotary", stray);
    expect(() => model.loadWeights(extra)).toThrow(/unexpected tensors .*h\.0\.attn\.rotary/);
    const twice = other.namedWeights();
    twice.set("transformer.wte.weight", other.param("wte.weight"));
    expect(() => model.loadWeights(twice)).toThrow(/wte\.weight: given twice/);
    expect(maxAbsDiff(model.param("wte.weight").dataSync(), before)).toBe(0);
    tf.dispose([bad, head, stray]);
    model.dispose();
    other.dispose();
  });

  it("converts to and from a Hugging Face config.json", () => {
    const hf = toHfConfig(gptConfig("small", { vocabSize: 1000 }), {
      bosTokenId: 0,
      eosTokenId: 0,
      padTokenId: 1,
    });
    expect(hf).toMatchObject({
      model_type: "gpt2",
      architectures: ["GPT2LMHeadModel"],
      n_embd: 256,
      n_layer: 6,
      n_head: 8,
      n_positions: 256,
      n_ctx: 256,
      vocab_size: 1000,
      activation_function: "gelu_new",
      tie_word_embeddings: true,
      resid_pdrop: 0,
      embd_pdrop: 0,
      attn_pdrop: 0,
      pad_token_id: 1,
    });
    const back = fromHfConfig(JSON.parse(JSON.stringify(hf)));
    expect(back.config).toEqual(gptConfig("small", { vocabSize: 1000 }));
    expect([back.bosTokenId, back.eosTokenId, back.padTokenId]).toEqual([0, 0, 1]);
    expect(toHfConfig(small, {}, "GPT2ForSequenceClassification")).toMatchObject({ num_labels: 1 });
    expect(() => fromHfConfig({ ...hf, activation_function: "relu" })).toThrow(/activation_function/);
    expect(() => fromHfConfig({ ...hf, model_type: "llama" })).toThrow(/model_type/);
    expect(() => fromHfConfig({ ...hf, n_embd: 250 })).toThrow(
      /nEmbd \(250\) must be divisible by nHead \(8\)/,
    );
  });
});

describe("training", () => {
  const corpus = "the cat sat on the mat. the dog ate the log. a bird sang in the tree. ";
  const chars = [...new Set(corpus)].sort();
  const config: GPTConfig = {
    ...small,
    vocabSize: chars.length,
    nPositions: 32,
    nEmbd: 64,
    nLayer: 2,
    nHead: 4,
    initializerRange: 0.02,
  };
  const encode = (s: string) => [...s].map((c) => chars.indexOf(c));
  const windows = (count: number, length: number) =>
    Array.from({ length: count }, (_, i) => encode((corpus + corpus).slice(i * 9, i * 9 + length + 1)));

  it("over-fits a tiny corpus with Adam", () => {
    const model = new GPT(config, { seed: 1 });
    const rows = windows(8, 24);
    const x = tf.tensor2d(
      rows.map((r) => r.slice(0, -1)),
      [8, 24],
      "int32",
    );
    const y = tf.tensor2d(
      rows.map((r) => r.slice(1)),
      [8, 24],
      "int32",
    );
    const optimizer: tf.Optimizer = tf.train.adam(3e-3);
    let loss = Number.NaN;
    let first = Number.NaN;
    for (let step = 0; step < 300; step++) {
      loss = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(
          () => maskedCrossEntropy(model.forward(x).logits as tf.Tensor, y),
          model.trainableVariables(),
        );
        optimizer.applyGradients(grads);
        return value.dataSync()[0] as number;
      });
      if (step === 0) first = loss;
    }
    expect(first).toBeGreaterThan(2.5);
    expect(loss).toBeLessThan(0.05);
    optimizer.dispose();
    tf.dispose([x, y]);
    model.dispose();
  });

  it("does not grow tf.memory().numTensors across training steps", () => {
    const model = new GPT(config, { seed: 2, valueHead: true });
    const rows = windows(4, 16);
    const x = tf.tensor2d(
      rows.map((r) => r.slice(0, -1)),
      [4, 16],
      "int32",
    );
    const y = tf.tensor2d(
      rows.map((r) => r.slice(1)),
      [4, 16],
      "int32",
    );
    const mask = tf.ones([4, 16], "int32");
    const optimizer: tf.Optimizer = tf.train.adam(1e-3);
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const out = model.forward(x, { attentionMask: mask });
          return tf.add(
            maskedCrossEntropy(out.logits as tf.Tensor, y, mask),
            tf.mean(tf.square(out.values as tf.Tensor)),
          );
        }, model.trainableVariables());
        optimizer.applyGradients(grads);
        value.dataSync();
      });
    step(); // warm-up: the optimiser creates its slots, the LM head its cached transpose
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    optimizer.dispose();
    tf.dispose([x, y, mask]);
    model.dispose();
  });
});
