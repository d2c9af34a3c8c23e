/**
 * The GPT against another implementation of GPT-2: fixtures/hf_gpt2_reference.py computes GPT-2 as Hugging
 * Face transformers' modeling_gpt2.py does (GPT2LMHeadModel, GPT2ForSequenceClassification), in plain
 * PyTorch and float64, from the config.json and model.safetensors that saveCheckpoint writes. Our side runs
 * the checkpoint as loadCheckpoint reads it back, on the wasm backend in float32.
 *
 * The models are small (2 layers, d 64, 4 heads, ~300 tokens, context 64) but every parameter matters:
 * random weights, and layer norms and biases moved off their initial 1 and 0 (a wrong epsilon, a missing
 * bias or a swapped gain would otherwise hide). The reward model has its own layer-norm epsilon (1e-4), so
 * the reference must take it from config.json.
 *
 * Tolerance: 1e-4 absolute on logits up to ~10 in magnitude. The reference is float64, so the difference is
 * our float32 rounding alone: about 6e-8 relative per operation, summed over dot products of 64-256 terms
 * through 2 blocks — observed 1.0e-5 (the test logs it). Breaking one thing moves them by 7e-4 to 10: erf-GELU
 * for tanh-GELU 1.4e-3, epsilon 1e-6 for 1e-5 7e-4, 1/head_dim for 1/√head_dim 6.2, a transposed Conv1D 10.
 *
 * Needs a python3 with torch (Debian: python3-torch; CI installs it). Without one the suite is skipped with
 * that reason, except under CI, where it fails.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { loadCheckpoint, saveCheckpoint } from "../src/checkpoint";
import {
  GPT,
  type GPTConfig,
  generate,
  gptConfig,
  hashSeed,
  lastTokenValues,
  mulberry32,
  normalSamples,
} from "../src/model";
import { rewardScores } from "../src/rl/reward-model";
import { DEFAULT_SPECIAL_TOKENS, type Tokenizer, trainBpe } from "../src/tokenizer";

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "hf_gpt2_reference.py");
const TOLERANCE = 1e-4;

function torchPython(): string | undefined {
  for (const python of ["python3", "/usr/bin/python3"]) {
    try {
      execFileSync(python, ["-c", "import torch"], { stdio: "ignore" });
      return python;
    } catch {}
  }
  return undefined;
}
const python = torchPython();
const inCi = process.env.CI === "true";
const why = python ? "" : " — skipped: no python3 with torch here (Debian: apt-get install python3-torch)";

type Reference = {
  logits: Record<string, number[]>;
  generate?: { tokens: number[][]; min_top2_gap: number };
  scores?: Record<string, { scores: number[]; last: number[] }>;
};

function reference(checkpoint: string, request: unknown): Reference {
  const out = execFileSync(python as string, [SCRIPT, checkpoint], {
    input: JSON.stringify({ dtype: "float64", ...(request as object) }),
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  return JSON.parse(out) as Reference;
}

/** Every parameter away from its initial value: gains around 1 (±0.3), biases ±0.2, weights as drawn. */
function perturb(model: GPT, seed: number): void {
  for (const [name, p] of model.params) {
    const gain = /(^|\.)ln_(\d|f)\.weight$/.test(name);
    const bias = name.endsWith(".bias");
    if (!gain && !bias) continue;
    const noise = normalSamples(p.size, gain ? 0.3 : 0.2, mulberry32(hashSeed(seed, name)));
    tf.tidy(() => p.assign(tf.add(p, tf.tensor(noise, p.shape))));
  }
}

/** Rows padded to the longest on the `side`, with their attention masks. */
function padded(rows: number[][], pad: number, side: "left" | "right") {
  const longest = Math.max(...rows.map((r) => r.length));
  const fill = (r: number[]) => new Array<number>(longest - r.length).fill(pad);
  const ones = (r: number[]) => new Array<number>(r.length).fill(1);
  const zeros = (r: number[]) => new Array<number>(longest - r.length).fill(0);
  return {
    ids: rows.map((r) => (side === "right" ? [...r, ...fill(r)] : [...fill(r), ...r])),
    mask: rows.map((r) => (side === "right" ? [...ones(r), ...zeros(r)] : [...zeros(r), ...ones(r)])),
    longest,
  };
}

/** Our logits [B, T, V] (flat) of padded rows, positions derived from the mask (the model's default). */
function ourLogits(model: GPT, ids: number[][], mask: number[][]): Float32Array {
  return tf.tidy(() => {
    const shape: [number, number] = [ids.length, (ids[0] as number[]).length];
    const { logits } = model.forward(tf.tensor2d(ids, shape, "int32"), {
      attentionMask: tf.tensor2d(mask, shape, "int32"),
      returnHidden: false,
    });
    return logits?.dataSync() as Float32Array;
  });
}

/** Max |a − b| over the real (mask 1) positions of [B, T, V] logits, and max |b| there. */
function compareReal(a: ArrayLike<number>, b: ArrayLike<number>, mask: number[][], vocab: number) {
  let diff = 0;
  let magnitude = 0;
  let compared = 0;
  const time = (mask[0] as number[]).length;
  mask.forEach((row, r) => {
    row.forEach((m, t) => {
      if (m !== 1) return;
      const at = (r * time + t) * vocab;
      for (let v = 0; v < vocab; v++) {
        diff = Math.max(diff, Math.abs((a[at + v] as number) - (b[at + v] as number)));
        magnitude = Math.max(magnitude, Math.abs(b[at + v] as number));
      }
      compared += 1;
    });
  });
  return { diff, magnitude, compared };
}

const TEXTS = [
  "the park was lovely and the dogs were happy all afternoon",
  "a cold rainy day",
  "the movie was",
  "dogs",
  "what a wonderful, bright morning",
];

describe.skipIf(!python && !inCi)(`GPT vs transformers' GPT-2, computed independently${why}`, () => {
  const tmp = mkdtempSync(join(tmpdir(), "model-reference-"));
  let tokenizer: Tokenizer;
  let config: GPTConfig;
  let rows: number[][];
  let policy: GPT;
  let rewardModel: GPT;

  beforeAll(async () => {
    if (!python)
      throw new Error("CI runs this suite: it needs a python3 with torch (python3-torch, see .ci/run)");
    expect((await initBackend("wasm")).name).toBe("wasm");
    tokenizer = trainBpe(TEXTS, { vocabSize: 300, specialTokens: DEFAULT_SPECIAL_TOKENS });
    config = gptConfig("tiny", {
      vocabSize: tokenizer.vocabSize,
      nPositions: 64,
      nEmbd: 64,
      nLayer: 2,
      nHead: 4,
      initializerRange: 0.25,
    });
    rows = TEXTS.map((text) => tokenizer.encode(text));
    expect(new Set(rows.map((r) => r.length)).size).toBe(rows.length); // every row its own length
    for (const row of rows) expect(row).not.toContain(tokenizer.padId);

    const written = new GPT(config, { seed: 11 });
    perturb(written, 12);
    await saveCheckpoint(join(tmp, "policy"), written, tokenizer);
    written.dispose();
    policy = (await loadCheckpoint(join(tmp, "policy"))).model;

    const rm = new GPT({ ...config, layerNormEpsilon: 1e-4 }, { seed: 21, rewardHead: true });
    perturb(rm, 22);
    await saveCheckpoint(join(tmp, "reward"), rm, tokenizer);
    rm.dispose();
    rewardModel = (await loadCheckpoint(join(tmp, "reward"), { rewardHead: true })).model;
  });

  afterAll(() => {
    policy?.dispose();
    rewardModel?.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("right-padded rows of different lengths: the same logits as GPT2LMHeadModel with the attention mask", () => {
    const { ids, mask } = padded(rows, tokenizer.padId, "right");
    const ref = reference(join(tmp, "policy"), {
      logits: { right: { input_ids: ids, attention_mask: mask, positions: "forward" } },
    });
    const ours = ourLogits(policy, ids, mask);
    const { diff, magnitude, compared } = compareReal(
      ours,
      ref.logits.right as number[],
      mask,
      config.vocabSize,
    );
    console.log(
      `right padding: max |Δlogit| ${diff.toExponential(2)} over ${compared} positions, max |logit| ${magnitude.toFixed(2)}`,
    );
    expect(compared).toBe(rows.flat().length);
    expect(magnitude).toBeGreaterThan(5); // logits of a trained model's size, so the tolerance is relative ~1e-5
    expect(diff).toBeLessThan(TOLERANCE);
  });

  it("left padding as generation pads: ours = transformers with generate's position ids (cumsum(mask) − 1); its forward without position ids shifts the padded rows", () => {
    const { ids, mask, longest } = padded(rows, tokenizer.padId, "left");
    const ref = reference(join(tmp, "policy"), {
      logits: {
        generate: { input_ids: ids, attention_mask: mask, positions: "generate" },
        forward: { input_ids: ids, attention_mask: mask, positions: "forward" },
      },
    });
    const ours = ourLogits(policy, ids, mask);
    const same = compareReal(ours, ref.logits.generate as number[], mask, config.vocabSize);
    console.log(`left padding: max |Δlogit| ${same.diff.toExponential(2)} over ${same.compared} positions`);
    expect(same.compared).toBe(rows.flat().length);
    expect(same.diff).toBeLessThan(TOLERANCE);

    // GPT2Model.forward numbers positions 0, 1, ... whatever the mask: the same for the unpadded (longest)
    // row, other positions for the padded ones. Ours follows generate; pass position_ids to transformers.
    const full = rows.findIndex((r) => r.length === longest);
    const onlyRow = (r: number) => mask.map((m, i) => (i === r ? m : m.map(() => 0)));
    expect(
      compareReal(ours, ref.logits.forward as number[], onlyRow(full), config.vocabSize).diff,
    ).toBeLessThan(TOLERANCE);
    const shifted = mask.map((m, i) => (i === full ? m.map(() => 0) : m));
    expect(compareReal(ours, ref.logits.forward as number[], shifted, config.vocabSize).diff).toBeGreaterThan(
      0.1,
    );
  });

  it("greedy generation of 20 tokens: our key/value cache gives the ids of the reference's full recompute", async () => {
    const prompts = rows.slice(1, 4).concat([rows[0] as number[]]);
    const ref = reference(join(tmp, "policy"), { generate: { prompts, max_new_tokens: 20 } });
    const ours = await generate(policy, prompts, {
      maxNewTokens: 20,
      greedy: true,
      padTokenId: tokenizer.padId,
    });
    const gap = ref.generate?.min_top2_gap as number;
    console.log(`greedy: smallest gap between the two best logits in the reference ${gap.toExponential(2)}`);
    // The choice is well defined: no near-tie the tolerance could flip.
    expect(gap).toBeGreaterThan(10 * TOLERANCE);
    expect(ours.tokens).toEqual(ref.generate?.tokens);
    expect(ours.tokens.every((t) => t.length === 20)).toBe(true);
    // Not a degenerate model that repeats one token.
    expect(new Set(ours.tokens.flat()).size).toBeGreaterThan(5);
  });

  it("reward model: scores of padded rows = GPT2ForSequenceClassification at the last token that is not config.pad_token_id", () => {
    const right = padded(rows, tokenizer.padId, "right");
    const left = padded(rows, tokenizer.padId, "left");
    const ref = reference(join(tmp, "reward"), {
      scores: {
        right: { input_ids: right.ids, attention_mask: right.mask },
        left: { input_ids: left.ids, attention_mask: left.mask, positions: "generate" },
      },
    });
    const rightRef = ref.scores?.right as { scores: number[]; last: number[] };
    expect(rightRef.last).toEqual(rows.map((r) => r.length - 1)); // config.json's pad_token_id finds them
    expect(ref.scores?.left?.last).toEqual(rows.map(() => left.longest - 1));

    // The workbench's scoring path: right padding, no mask (causal attention hides the padding after).
    const ours = rewardScores(rewardModel, rows, tokenizer.padId);
    // Left padding with a mask, read at the last real token (ops.lastTokenValues).
    const oursLeft = tf.tidy(() => {
      const shape: [number, number] = [rows.length, left.longest];
      const mask = tf.tensor2d(left.mask, shape, "int32");
      const { scores } = rewardModel.forward(tf.tensor2d(left.ids, shape, "int32"), {
        attentionMask: mask,
        logits: "none",
        returnHidden: false,
      });
      return [...lastTokenValues(scores as tf.Tensor2D, mask).dataSync()];
    });
    const diff = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - (b[i] as number))));
    console.log(
      `reward: scores ${rightRef.scores.map((s) => s.toFixed(3)).join(", ")}; max |Δ| right ${diff(ours, rightRef.scores).toExponential(2)}, left ${diff(oursLeft, ref.scores?.left?.scores as number[]).toExponential(2)}`,
    );
    expect(Math.max(...rightRef.scores) - Math.min(...rightRef.scores)).toBeGreaterThan(0.5); // rows differ
    expect(diff(ours, rightRef.scores)).toBeLessThan(TOLERANCE);
    expect(diff(oursLeft, ref.scores?.left?.scores as number[])).toBeLessThan(TOLERANCE);
  });
});
