/**
 * The online trainers' losses (parallel/losses-rl.ts) across data-parallel workers: on the same rollout
 * rows, two workers' row-weighted shard gradients equal this thread's gradients of the whole micro-batch —
 * for PPO (policy + value head, also with LoRA adapters), GRPO (every loss type, and the GSPO and GSPO-token
 * importance sampling levels) and RLOO — and two AdamW
 * steps from either leave the same weights. Rollouts sampled across the workers with per-row seeds equal
 * the same per-row sampling on this thread, and so do the rollout's log-probs computed there.
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { addLora, GPT, type GPTConfig, generate, logProbsOf, mulberry32 } from "../src/model";
import { DataParallel, type HostTensor } from "../src/parallel";
import {
  groupPolicyLoss,
  microBatchColumns,
  PPO_ROW_STATS,
  ppoLoss,
  type RlShardLoss,
  rolloutStats,
} from "../src/parallel/losses-rl";
import { hostTensors } from "../src/rl/rollout";
import { createOptimizer, optimizerStep } from "../src/train/adamw";
import { lossAndGradientsByName } from "../src/train/gradients";

const config: GPTConfig = {
  vocabSize: 41,
  nPositions: 24,
  nEmbd: 32,
  nLayer: 2,
  nHead: 4,
  layerNormEpsilon: 1e-5,
  initializerRange: 0.1,
};
const ROWS = 5; // split 3 + 2 across two workers
const P = 4;
const R = 6;
const lossModule = new URL("../src/parallel/losses-rl.ts", import.meta.url).href;

/** A rollout-shaped loss batch: left-padded prompts, completions of varying length, old log-probs near the model's. */
function lossBatch(model: GPT, seed: number): Record<string, HostTensor> {
  const random = mulberry32(seed);
  const width = P + R;
  const inputIds = new Int32Array(ROWS * width);
  const attention = new Float32Array(ROWS * width);
  const responses = new Int32Array(ROWS * R);
  const mask = new Float32Array(ROWS * R);
  for (let b = 0; b < ROWS; b++) {
    const promptLength = 2 + (b % 3);
    const completion = 1 + ((b * 2) % R);
    for (let i = P - promptLength; i < width; i++) {
      const inCompletion = i >= P && i - P < completion;
      if (i < P || inCompletion) {
        inputIds[b * width + i] = 1 + Math.floor(random() * (config.vocabSize - 1));
        attention[b * width + i] = 1;
      }
      if (inCompletion) {
        responses[b * R + i - P] = inputIds[b * width + i]!;
        mask[b * R + i - P] = 1;
      }
    }
  }
  const oldLogprobs = tf.tidy(() => {
    const out = model.forward(tf.tensor2d(inputIds, [ROWS, width], "int32"), {
      attentionMask: tf.tensor2d(attention, [ROWS, width]),
      logits: "all",
      returnHidden: false,
    });
    const logits = tf.slice(out.logits!, [0, P - 1, 0], [ROWS, R, config.vocabSize]);
    const noise = tf.mul(tf.randomUniform([ROWS, R], -0.3, 0.3, "float32", seed), 1);
    return tf.add(logProbsOf(logits, tf.tensor2d(responses, [ROWS, R], "int32")), noise).dataSync();
  }) as Float32Array;
  const perToken = (scale: number) => Float32Array.from({ length: ROWS * R }, () => scale * (random() - 0.5));
  const tokens = mask.reduce((a, m) => a + m, 0);
  const micro = microBatchColumns(ROWS, tokens);
  const f = (values: Float32Array, shape: number[]): HostTensor => ({ values, shape, dtype: "float32" });
  return {
    inputIds: { values: inputIds, shape: [ROWS, width], dtype: "int32" },
    attention: f(attention, [ROWS, width]),
    responses: { values: responses, shape: [ROWS, R], dtype: "int32" },
    oldLogprobs: f(oldLogprobs, [ROWS, R]),
    refLogprobs: f(
      Float32Array.from(oldLogprobs, (x) => x - 0.1 * random()),
      [ROWS, R],
    ),
    oldValues: f(perToken(1), [ROWS, R]),
    advantages: f(perToken(2), [ROWS, R]),
    returns: f(perToken(2), [ROWS, R]),
    groupAdvantages: f(
      Float32Array.from({ length: ROWS }, () => 2 * random() - 1),
      [ROWS],
    ),
    mask: f(mask, [ROWS, R]),
    batchTokens: f(new Float32Array(ROWS).fill(tokens + 7), [ROWS]),
    microRows: f(micro.microRows, [ROWS]),
    microTokens: f(micro.microTokens, [ROWS]),
  };
}

/** The batch a loss reads (GRPO/RLOO: one advantage per row). */
function batchFor(name: string, batch: Record<string, HostTensor>): Record<string, HostTensor> {
  const { groupAdvantages, ...rest } = batch;
  return name === "ppoLoss" ? rest : { ...rest, advantages: groupAdvantages! };
}

/** This thread's loss, gradients (by parameter name) and per-row outputs on the whole batch. */
function local(
  model: GPT,
  loss: RlShardLoss,
  batch: Record<string, HostTensor>,
  options: Record<string, unknown>,
) {
  const t = hostTensors(batch);
  let rows: Record<string, Float32Array> = {};
  try {
    const result = lossAndGradientsByName(model.trainableParams(), () => {
      const out = loss(model, t, options);
      rows = Object.fromEntries(Object.entries(out.rows).map(([k, x]) => [k, x.dataSync() as Float32Array]));
      return out.loss;
    });
    return { ...result, rows };
  } finally {
    tf.dispose(Object.values(t));
  }
}

const group = {
  temperature: 0.9,
  epsilon: 0.2,
  epsilonHigh: 0.28,
  maxCompletionLength: R,
  gradAccumSteps: 1,
};
const ppoOptions = { clipRange: 0.1, clipRangeValue: 0.2, valueLossCoef: 0.5, temperature: 0.9 };
const groupOptions: Record<string, unknown>[] = [
  ...["dapo", "bnpo", "grpo", "dr_grpo"].map((lossType) => ({
    ...group,
    kind: "grpo",
    beta: 0.04,
    lossType,
  })),
  { ...group, kind: "rloo", beta: 0.05, lossType: "grpo" },
];
/** GSPO and GSPO-token (importanceSamplingLevel), with TRL's GSPO clip range and with the default one. */
const gspo = { epsilon: 3e-4, epsilonHigh: 4e-4 };
const levelOptions: Record<string, unknown>[] = [
  { ...group, ...gspo, kind: "grpo", beta: 0, lossType: "grpo", importanceSamplingLevel: "sequence" },
  { ...group, kind: "grpo", beta: 0.04, lossType: "dapo", importanceSamplingLevel: "sequence" },
  { ...group, kind: "grpo", beta: 0.04, lossType: "bnpo", importanceSamplingLevel: "sequence" },
  {
    ...group,
    ...gspo,
    kind: "grpo",
    beta: 0.04,
    lossType: "dr_grpo",
    importanceSamplingLevel: "sequence_token",
  },
  { ...group, kind: "grpo", beta: 0, lossType: "grpo", importanceSamplingLevel: "sequence_token" },
];

/** The batch with its last row's loss tokens masked out (a truncated completion under maskTruncatedCompletions). */
function withMaskedRow(batch: Record<string, HostTensor>): Record<string, HostTensor> {
  const mask = Float32Array.from(batch.mask!.values as Float32Array);
  mask.fill(0, (ROWS - 1) * R, ROWS * R);
  const micro = microBatchColumns(
    ROWS,
    mask.reduce((a, m) => a + m, 0),
  );
  const column = (values: Float32Array): HostTensor => ({ values, shape: [ROWS], dtype: "float32" });
  return {
    ...batch,
    mask: { ...batch.mask!, values: mask },
    microRows: column(micro.microRows),
    microTokens: column(micro.microTokens),
  };
}

/** The largest absolute difference between two sets of tensors keyed alike. */
function largestDifference(a: Map<string, tf.Tensor>, b: Map<string, tf.Tensor>): number {
  let largest = 0;
  for (const [k, t] of a) {
    const x = t.dataSync();
    const y = b.get(k)!.dataSync();
    for (let i = 0; i < x.length; i++) largest = Math.max(largest, Math.abs(x[i]! - y[i]!));
  }
  return largest;
}

describe.each([
  { lora: false, label: "full" },
  { lora: true, label: "LoRA (adapters + value head)" },
])("RL losses on two workers, $label", ({ lora }) => {
  const models: GPT[] = [];
  const parallels: DataParallel[] = [];
  const modelFor = (name: string) => {
    const model = new GPT(config, { seed: 7, valueHead: name === "ppoLoss" });
    if (lora) {
      const adapters = addLora(
        model,
        { r: 4, alpha: 8, dropout: 0, targets: ["c_attn", "c_fc"] },
        { seed: 3, trainable: name === "ppoLoss" ? ["v_head.weight", "v_head.bias"] : [] },
      );
      // B ≠ 0, so that the adapters change the forward pass (a fresh adapter is the identity).
      for (const v of adapters.namedVariables().values())
        tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, 0.2, "float32", 5)));
    }
    models.push(model);
    return model;
  };
  /** Two copies of a model, the second with two workers computing `name`'s loss. */
  const pair = async (name: string) => {
    const single = modelFor(name);
    const split = modelFor(name);
    const parallel = await DataParallel.create(split, { workers: 2, loss: { module: lossModule, name } });
    parallels.push(parallel);
    return { single, split, parallel };
  };
  beforeAll(async () => {
    await initBackend("wasm");
  });
  afterAll(async () => {
    for (const p of parallels) await p.dispose();
    for (const m of models) m.dispose();
  });

  /** One micro-batch's loss and gradients here and on the workers; checks they agree, returns both. */
  async function compare(
    m: Awaited<ReturnType<typeof pair>>,
    loss: RlShardLoss,
    batch: Record<string, HostTensor>,
    options: Record<string, unknown>,
  ) {
    const a = local(m.single, loss, batch, options);
    const b = await m.parallel.gradients(batch, { options });
    const names = new Map([...m.split.trainableParams()].map(([n, v]) => [v.name, n]));
    const bGrads = new Map(Object.entries(b.grads).map(([k, g]) => [names.get(k)!, g]));
    const label = JSON.stringify(options);
    expect(Math.abs(b.loss - a.loss), label).toBeLessThan(1e-5 * Math.max(1, Math.abs(a.loss)));
    expect([...bGrads.keys()].sort()).toEqual([...a.grads.keys()].sort());
    if (lora)
      expect([...a.grads.keys()].every((k) => k.includes("lora_") || k.startsWith("v_head"))).toBe(true);
    expect(largestDifference(a.grads, bGrads), label).toBeLessThan(1e-5);
    // The per-row outputs come back in row order (PPO's clip counts may flip at the boundary: float noise).
    const counts = new Set(["clipFrac", "vClipFrac"].map((c) => PPO_ROW_STATS.indexOf(c as never)));
    for (const [k, x] of Object.entries(a.rows)) {
      const y = b.rows[k]!.values;
      expect(y.length).toBe(x.length);
      const width = k === "stats" ? PPO_ROW_STATS.length : 1;
      for (let i = 0; i < x.length; i++) {
        const tolerance = width > 1 && counts.has(i % width) ? 1 : 1e-4 * Math.max(1, Math.abs(x[i]!));
        expect(Math.abs(y[i]! - x[i]!), `${k}[${i}]`).toBeLessThanOrEqual(tolerance);
      }
    }
    return { a, bGrads, bLoss: b.loss };
  }

  /** Two AdamW steps from each side's gradients leave the same weights. */
  async function twoSteps(
    m: Awaited<ReturnType<typeof pair>>,
    loss: RlShardLoss,
    batch: Record<string, HostTensor>,
    options: Record<string, unknown>,
  ) {
    // ε as PPO's default: gradients at float-noise level (1e-9) make no step on either side.
    const optim = { beta1: 0.9, beta2: 0.999, epsilon: 1e-5, weightDecay: 0 };
    const optimizers = [m.single, m.split].map((x) => createOptimizer(x.trainableParams(), optim));
    for (let step = 0; step < 2; step++) {
      const { a, bGrads, bLoss } = await compare(m, loss, batch, options);
      optimizerStep(optimizers[0]!, a.grads, { loss: a.loss, lr: 3e-3, gradClip: 1, step: step + 1 });
      optimizerStep(optimizers[1]!, bGrads, { loss: bLoss, lr: 3e-3, gradClip: 1, step: step + 1 });
    }
    for (const o of optimizers) o.dispose();
    expect(largestDifference(m.single.trainableParams(), m.split.trainableParams())).toBeLessThan(1e-5);
  }

  it("PPO (clipped policy + value loss): shard gradients and two AdamW steps equal this thread's", async () => {
    const m = await pair("ppoLoss");
    const batch = batchFor("ppoLoss", lossBatch(m.single, 11));
    const before = tf.memory().numTensors;
    await twoSteps(m, ppoLoss, batch, ppoOptions);
    expect(tf.memory().numTensors).toBe(before);

    // The rollout's no-gradient statistics on the workers equal this thread's (policy; LoRA: adapters off too).
    const rollout = { inputIds: batch.inputIds!, attention: batch.attention!, responses: batch.responses! };
    // (A model's first forward pass on this thread caches a tensor it keeps: count from after one.)
    tf.tidy(() => rolloutStats(m.split, hostTensors(rollout), { temperature: 0.9 }));
    const afterWarmUp = tf.memory().numTensors;
    for (const options of [
      { temperature: 0.9, values: true },
      { temperature: 0.9, adapters: false },
    ]) {
      const there = await m.parallel.rows("rolloutStats", rollout, options);
      const here = tf.tidy(() =>
        Object.entries(rolloutStats(m.split, hostTensors(rollout), options)).map(
          ([k, t]) => [k, t.dataSync() as Float32Array] as const,
        ),
      );
      expect(Object.keys(there).sort()).toEqual(here.map(([k]) => k).sort());
      for (const [k, x] of here) {
        const y = there[k]!.values;
        expect(y.length).toBe(x.length);
        for (let i = 0; i < x.length; i++) expect(Math.abs(y[i]! - x[i]!), `${k}[${i}]`).toBeLessThan(1e-5);
      }
    }
    expect(tf.memory().numTensors).toBe(afterWarmUp);
  });

  it("GRPO (dapo, bnpo, grpo, dr_grpo; per-token, GSPO and GSPO-token ratios) and RLOO: shard gradients equal this thread's; two AdamW steps too; rollouts sampled on the workers equal this thread's with the same per-row seeds", async () => {
    const m = await pair("groupPolicyLoss");
    const batch = batchFor("groupPolicyLoss", lossBatch(m.single, 12));
    const before = tf.memory().numTensors;
    for (const options of groupOptions) {
      const { a, bGrads } = await compare(m, groupPolicyLoss, batch, options);
      tf.dispose([...a.grads.values(), ...bGrads.values()]);
    }
    await twoSteps(m, groupPolicyLoss, batch, groupOptions[0]!);
    expect(tf.memory().numTensors).toBe(before);

    // GSPO and GSPO-token, a completion without loss tokens among the rows: one ratio per completion at the
    // sequence level ([b, 1]), one per token for GSPO-token.
    const masked = withMaskedRow(batch);
    for (const options of levelOptions) {
      const { a, bGrads } = await compare(m, groupPolicyLoss, masked, options);
      const width = options.importanceSamplingLevel === "sequence" ? 1 : R;
      expect(a.rows.ratio!.length, JSON.stringify(options)).toBe(ROWS * width);
      tf.dispose([...a.grads.values(), ...bGrads.values()]);
    }
    await twoSteps(m, groupPolicyLoss, masked, levelOptions[0]!);
    expect(tf.memory().numTensors).toBe(before);

    const random = mulberry32(5);
    const prompts = Array.from({ length: ROWS }, (_, b) =>
      Array.from({ length: 2 + (b % 3) }, () => 1 + Math.floor(random() * (config.vocabSize - 1))),
    );
    const rowSeeds = prompts.map((_, b) => 100 + b);
    const options = { maxNewTokens: 8, temperature: 1, eosTokenId: 0, padTokenId: 0 };
    const here = await generate(m.split, prompts, { ...options, rowSeeds });
    const there = await m.parallel.generate(prompts, options, rowSeeds);
    expect(there.tokens).toEqual(here.tokens);
    // A row's tokens do not depend on its batch-mates.
    const alone = await generate(m.split, [prompts[3]!], { ...options, rowSeeds: [rowSeeds[3]!] });
    expect(alone.tokens[0]).toEqual(here.tokens[3]);
  });
});
