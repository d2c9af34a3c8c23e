/**
 * GPT-2 (Radford et al. 2019) in tfjs, after nanoGPT's model.py: pre-LN blocks, tanh-GELU MLP, learned
 * positions, LM head tied to the token embedding. Parameters are named as in GPT-2 checkpoints
 * (`wte.weight`, `h.0.attn.c_attn.weight`, ...), with Conv1D's [in, out] layout, so loading a checkpoint
 * is a key mapping. Optional scalar heads: `v_head` (PPO's value function) and `score` (reward model).
 *
 * Every op with a gradient comes from ./ops.ts (custom gradients that avoid tfjs-wasm's slow paths).
 */
import * as tf from "@tensorflow/tfjs";
import { type GPTConfig, validateConfig } from "./config";
import type { LoraAdapters } from "./lora";
import {
  attentionBias,
  cachedSelfAttention,
  causalSelfAttention,
  embedding,
  gelu,
  type LayerKV,
  layerNorm,
  linear,
  lmHeadLogProbs,
  tiedLinear,
} from "./ops";
import { hashSeed, mulberry32, normalSamples } from "./rng";

export interface GPTOptions {
  /** Seed of the initialisation: two models built with the same config and seed are identical. */
  seed?: number;
  /** Add PPO's value head `v_head` (d -> 1, with bias, initialised to zero). */
  valueHead?: boolean;
  /** Add the reward head `score` (d -> 1, no bias, N(0, 1/sqrt(d+1)), as GPT2ForSequenceClassification). */
  rewardHead?: boolean;
  /** Whether optimisers may update the variables (default true; false for a frozen reference model). */
  trainable?: boolean;
  /** "random" (default): GPT-2 initialisation. "zeros": all zero, for a model about to load weights. */
  init?: "random" | "zeros";
  /** Prefix of the tf.Variable names, which tfjs needs unique per process (default gpt1/, gpt2/, ...). */
  name?: string;
  /** Parameters to take as they are (shared, not copied): GPT.fromWeights. */
  adopt?: Map<string, tf.Tensor>;
}

/** Per-layer keys and values of the positions already processed (see generate.ts). */
export type KVCache = { layers: LayerKV[] };

export interface ForwardOptions {
  /** [B, Tpast + T]: 1 for real tokens, 0 for padding (left or right). Default: all real. */
  attentionMask?: tf.Tensor;
  /**
   * [B, T] int32 positions. Default: with an attention mask, the count of real tokens before each one
   * (so left padding does not shift positions); without one, Tpast, Tpast+1, ...
   */
  positionIds?: tf.Tensor;
  /** Keys/values of earlier positions (inference only: no gradient flows through the cache). */
  kvCache?: KVCache;
  /** Return the keys/values of all positions for the next call (implied by kvCache). */
  useCache?: boolean;
  /** LM logits for "all" positions (default; "none" with targets), only the "last" one ([B, 1, V]), or "none". */
  logits?: "all" | "last" | "none";
  /**
   * [B, T] int32: return `logProbs`, log p(target) at each position, through the fused LM head
   * (ops.lmHeadLogProbs): a backward pass then keeps one [B, T, V] tensor instead of three.
   */
  targets?: tf.Tensor;
  /** Include `hidden` in the output (default true). */
  returnHidden?: boolean;
  /**
   * With LoRA attached: false runs the base model alone — the reference policy of RL with LoRA is the same
   * weights with the adapters off (default true).
   */
  adapters?: boolean;
  /** A training forward pass: applies LoRA dropout (default false; no other layer has dropout). */
  training?: boolean;
}

/** The adapters a forward pass applies, if any (see lora.ts). */
type AdapterPass = { lora: LoraAdapters; training: boolean } | undefined;

export type GPTOutput = {
  /** [B, T, V], or [B, 1, V] with logits: "last". */
  logits?: tf.Tensor3D;
  /** [B, T]: log p(targets), with the `targets` option. */
  logProbs?: tf.Tensor2D;
  /** [B, T, d]: the final layer norm's output, the input of every head. */
  hidden?: tf.Tensor3D;
  /** [B, T]: value head, when the model has one. */
  values?: tf.Tensor2D;
  /** [B, T]: reward head at every position, when the model has one (use the last real token's). */
  scores?: tf.Tensor2D;
  /** Keys/values of all positions so far, with useCache or kvCache. */
  kvCache?: KVCache;
};

export interface LoadWeightsOptions {
  /** Accept (and skip) tensors that match no parameter instead of throwing (default false). */
  allowUnexpected?: boolean;
}

export interface LoadReport {
  /** Parameters assigned. */
  loaded: string[];
  /** Checkpoint entries skipped on purpose: GPT-2's attention buffers, a tied lm_head.weight. */
  ignored: string[];
  /** Head parameters absent from the checkpoint; they keep their initial values. */
  missingHeads: string[];
  /** Unknown entries skipped because of allowUnexpected. */
  unexpected: string[];
}

type ParamSpec = { name: string; shape: number[]; init: "normal" | "zeros" | "ones"; std?: number };

let modelCount = 0;

export class GPT {
  readonly config: GPTConfig;
  /** Parameters by checkpoint name (`wte.weight`, `h.0.ln_1.weight`, ...). */
  readonly params: Map<string, tf.Variable>;
  readonly hasValueHead: boolean;
  readonly hasRewardHead: boolean;
  /** Prefix of this model's tf.Variable names. */
  readonly name: string;
  /** LoRA adapters, when attached (`addLora` in lora.ts); the base parameters are then frozen. */
  lora: LoraAdapters | undefined;
  private lmHeadCache: { source: object; tableT: tf.Tensor2D } | undefined;

  constructor(config: GPTConfig, options: GPTOptions = {}) {
    validateConfig(config);
    this.config = { ...config };
    this.hasValueHead = options.valueHead === true;
    this.hasRewardHead = options.rewardHead === true;
    modelCount += 1;
    this.name = options.name ?? `gpt${modelCount}`;
    const seed = options.seed ?? 0;
    const trainable = options.trainable ?? true;
    this.params = new Map();
    for (const spec of parameterSpecs(this.config, this.hasValueHead, this.hasRewardHead)) {
      const given = options.adopt?.get(spec.name);
      if (given) {
        // tf.variable shares the tensor's data (a reference count), it does not copy it.
        this.params.set(spec.name, tf.variable(given, trainable, `${this.name}/${spec.name}`));
        continue;
      }
      const size = spec.shape.reduce((a, b) => a * b, 1);
      let values: Float32Array;
      if (options.init === "zeros" || spec.init === "zeros") values = new Float32Array(size);
      else if (spec.init === "ones") values = new Float32Array(size).fill(1);
      else
        values = normalSamples(
          size,
          spec.std ?? config.initializerRange,
          mulberry32(hashSeed(seed, spec.name)),
        );
      const variable = tf.tidy(() =>
        tf.variable(tf.tensor(values, spec.shape), trainable, `${this.name}/${spec.name}`),
      );
      this.params.set(spec.name, variable);
    }
  }

  /** The parameter `name`, or an error naming it. */
  param(name: string): tf.Variable {
    const p = this.params.get(name);
    if (!p) throw new Error(`GPT has no parameter "${name}"`);
    return p;
  }

  /**
   * inputIds [B, T] int32 -> logits [B, T, V], hidden [B, T, d] (+ values / scores [B, T] with heads).
   * Left padding: pass attentionMask; positions then count real tokens only.
   */
  forward(inputIds: tf.Tensor, options: ForwardOptions = {}): GPTOutput {
    const { config } = this;
    if (inputIds.rank !== 2)
      throw new Error(`forward: inputIds must be [B, T], got shape [${inputIds.shape}]`);
    const [batch, time] = inputIds.shape as [number, number];
    const past = options.kvCache;
    const pastLength = past?.layers[0]?.k.shape[1] ?? 0;
    const { attentionMask, positionIds } = options;
    if (
      attentionMask &&
      (attentionMask.rank !== 2 ||
        attentionMask.shape[0] !== batch ||
        attentionMask.shape[1] !== pastLength + time)
    ) {
      throw new Error(
        `forward: attentionMask must be [${batch}, ${pastLength + time}] (past + new), got [${attentionMask.shape}]`,
      );
    }
    if (
      positionIds &&
      (positionIds.rank !== 2 || positionIds.shape[0] !== batch || positionIds.shape[1] !== time)
    ) {
      throw new Error(`forward: positionIds must be [${batch}, ${time}], got [${positionIds.shape}]`);
    }
    const { targets } = options;
    if (targets && (targets.rank !== 2 || targets.shape[0] !== batch || targets.shape[1] !== time)) {
      throw new Error(`forward: targets must be [${batch}, ${time}], got [${targets.shape}]`);
    }
    if (!positionIds && !attentionMask && pastLength + time > config.nPositions) {
      throw new Error(`forward: ${pastLength + time} positions exceed the context of ${config.nPositions}`);
    }
    const useCache = options.useCache === true || past !== undefined;
    const adapters: AdapterPass =
      this.lora && options.adapters !== false
        ? { lora: this.lora, training: options.training === true }
        : undefined;
    return tf.tidy(() => {
      const tokens = embedding(inputIds, this.param("wte.weight") as tf.Tensor2D); // [B, T, d]
      let x = tf.add(tokens, this.positionEmbeddings(time, pastLength, attentionMask, positionIds)); // [B, T, d]
      const bias = attentionBias(attentionMask, time, pastLength); // [B|1, T, Tpast + T]
      const cache: LayerKV[] | undefined = useCache ? [] : undefined;
      for (let i = 0; i < config.nLayer; i++) {
        x = this.block(x, i, bias, adapters, cache && { past: past?.layers[i], out: cache });
      }
      const hidden = this.layerNorm(x, "ln_f") as tf.Tensor3D; // [B, T, d]
      const out: GPTOutput = {};
      const which = options.logits ?? (targets ? "none" : "all");
      if (targets) {
        const wte = this.param("wte.weight") as tf.Tensor2D;
        out.logProbs = lmHeadLogProbs(hidden, wte, targets, this.lmHeadT()) as tf.Tensor2D; // [B, T]
      }
      if (which !== "none") {
        const h = which === "last" ? tf.slice(hidden, [0, time - 1, 0], [batch, 1, config.nEmbd]) : hidden;
        out.logits = tiedLinear(h, this.param("wte.weight") as tf.Tensor2D, this.lmHeadT()) as tf.Tensor3D;
      }
      if (this.hasValueHead) {
        const v = linear(
          hidden,
          this.param("v_head.weight") as tf.Tensor2D,
          this.param("v_head.bias") as tf.Tensor1D,
        );
        out.values = v.reshape<tf.Tensor2D>([batch, time]); // [B, T]
      }
      if (this.hasRewardHead) {
        const score = linear(hidden, this.param("score.weight") as tf.Tensor2D);
        out.scores = score.reshape<tf.Tensor2D>([batch, time]); // [B, T]
      }
      if (options.returnHidden !== false) out.hidden = hidden;
      if (cache) out.kvCache = { layers: cache };
      return out;
    });
  }

  private block(
    x: tf.Tensor,
    i: number,
    bias: tf.Tensor,
    adapters: AdapterPass,
    cache?: { past?: LayerKV; out: LayerKV[] },
  ): tf.Tensor {
    const h = `h.${i}`;
    x = tf.add(x, this.attention(this.layerNorm(x, `${h}.ln_1`), i, bias, adapters, cache));
    x = tf.add(x, this.mlp(this.layerNorm(x, `${h}.ln_2`), i, adapters));
    return x;
  }

  private attention(
    x: tf.Tensor,
    i: number,
    bias: tf.Tensor,
    adapters: AdapterPass,
    cache?: { past?: LayerKV; out: LayerKV[] },
  ): tf.Tensor {
    const h = `h.${i}.attn`;
    const qkv = this.linear(x, `${h}.c_attn`, adapters); // [B, T, 3d]
    let y: tf.Tensor; // [B, T, d]
    if (cache) {
      const result = cachedSelfAttention(qkv, bias, this.config.nHead, cache.past);
      cache.out.push(result.kv);
      y = result.y;
    } else {
      y = causalSelfAttention(qkv, bias, this.config.nHead);
    }
    return this.linear(y, `${h}.c_proj`, adapters);
  }

  private mlp(x: tf.Tensor, i: number, adapters: AdapterPass): tf.Tensor {
    const hidden = this.linear(x, `h.${i}.mlp.c_fc`, adapters); // [B, T, 4d]
    return this.linear(gelu(hidden), `h.${i}.mlp.c_proj`, adapters); // [B, T, d]
  }

  /** Conv1D `module`: x W + b, plus LoRA's (α/r) x A B when the pass applies an adapter on it. */
  private linear(x: tf.Tensor, module: string, adapters: AdapterPass): tf.Tensor {
    const y = linear(
      x,
      this.param(`${module}.weight`) as tf.Tensor2D,
      this.param(`${module}.bias`) as tf.Tensor1D,
    );
    const delta = adapters?.lora.delta(x, module, adapters.training);
    return delta ? tf.add(y, delta) : y;
  }

  private layerNorm(x: tf.Tensor, module: string): tf.Tensor {
    const weight = this.param(`${module}.weight`) as tf.Tensor1D;
    return layerNorm(x, weight, this.param(`${module}.bias`) as tf.Tensor1D, this.config.layerNormEpsilon);
  }

  /** [B, T, d], or [T, d] broadcast over the batch when positions are just past..past+T-1. */
  private positionEmbeddings(
    time: number,
    past: number,
    mask?: tf.Tensor,
    positionIds?: tf.Tensor,
  ): tf.Tensor {
    const wpe = this.param("wpe.weight") as tf.Tensor2D;
    if (positionIds) return embedding(positionIds, wpe);
    if (mask) {
      // Position of a token = real tokens before it; padding gets 0 (it attends only to itself).
      const counts = tf.cumsum(tf.cast(mask, "int32"), 1); // [B, Tpast + T]
      const positions = tf.maximum(tf.sub(counts, 1), 0);
      return embedding(tf.slice(positions, [0, past], [-1, time]), wpe); // [B, T, d]
    }
    return tf.slice(wpe, [past, 0], [time, this.config.nEmbd]); // [T, d]
  }

  /** wteᵀ [d, V] for the LM head, recomputed only when wte changes (an optimiser step replaces its data). */
  private lmHeadT(): tf.Tensor2D {
    const wte = this.param("wte.weight") as tf.Tensor2D;
    const source = wte.dataId;
    if (!this.lmHeadCache || this.lmHeadCache.source !== source) {
      this.lmHeadCache?.tableT.dispose();
      this.lmHeadCache = { source, tableT: tf.keep(tf.transpose(wte)) };
    }
    return this.lmHeadCache.tableT;
  }

  /** The live parameter tensors by checkpoint name (not copies: do not dispose them). */
  namedWeights(): Map<string, tf.Tensor> {
    return new Map(this.params);
  }

  /**
   * Assign parameters from checkpoint tensors (the caller keeps ownership). Accepts names with or
   * without the `transformer.` prefix; skips GPT-2's attention buffers (`h.N.attn.bias`,
   * `h.N.attn.masked_bias`) and `lm_head.weight` when it equals `wte.weight` (tied). TRL's
   * `v_head.summary.*` maps to `v_head.*`; PyTorch-layout [1, d] head weights are transposed to [d, 1].
   * Throws, naming the tensor, on a missing transformer parameter or a shape mismatch; nothing is
   * assigned unless everything checks out.
   */
  loadWeights(
    weights: Map<string, tf.Tensor> | Record<string, tf.Tensor>,
    options: LoadWeightsOptions = {},
  ): LoadReport {
    const shapes = new Map([...this.params].map(([name, p]) => [name, p.shape]));
    const { plan, report } = planWeights(shapes, weights, options, this.params.get("wte.weight"));
    for (const { name, tensor, transpose } of plan) {
      tf.tidy(() => this.param(name).assign(asParameter(tensor, transpose)));
      report.loaded.push(name);
    }
    return report;
  }

  /**
   * A model whose parameters ARE the given checkpoint tensors (checked as loadWeights does), not copies
   * of them: loading GPT-2 small holds its 0.5 GB of weights once, where zero-initialised variables plus
   * the loaded tensors held them twice at the peak (and tfjs-wasm's heap never shrinks). Heads absent
   * from the checkpoint are zero, as loading onto a zero model left them: a trainer that needs a head
   * initialises it with its own seed (the reward model's `initRewardHead`). The caller may dispose its
   * tensors afterwards.
   */
  static fromWeights(
    config: GPTConfig,
    weights: Map<string, tf.Tensor> | Record<string, tf.Tensor>,
    options: Omit<GPTOptions, "init"> & LoadWeightsOptions = {},
  ): { model: GPT; report: LoadReport } {
    const { allowUnexpected, ...gptOptions } = options;
    const shapes = gptParameterShapes(config, gptOptions);
    const { plan, report } = planWeights(shapes, weights, { allowUnexpected });
    const adopted = new Map(
      plan.map(({ name, tensor, transpose }) => [name, asParameter(tensor, transpose)]),
    );
    try {
      const model = new GPT(config, { ...gptOptions, init: "zeros", adopt: adopted });
      report.loaded.push(...adopted.keys());
      return { model, report };
    } finally {
      // Converted copies only (the variables keep their own reference); the caller's tensors stay its own.
      const given = new Set(plan.map((p) => p.tensor));
      for (const t of adopted.values()) if (!given.has(t)) t.dispose();
    }
  }

  /**
   * Trainable variables by name — the base parameters that are not frozen, then LoRA's
   * (`h.0.attn.c_attn.lora_A.weight`, ...) — optionally only those whose name passes `filter`. What an
   * optimiser should hold moments for: with LoRA, the adapters (and a reward model's score head) only.
   */
  trainableParams(filter?: (name: string) => boolean): Map<string, tf.Variable> {
    const all = [...this.params.entries(), ...(this.lora?.namedVariables() ?? [])];
    return new Map(all.filter(([name, v]) => v.trainable && (!filter || filter(name))));
  }

  /** Trainable variables (LoRA's included), optionally only those whose name passes `filter`. */
  trainableVariables(filter?: (name: string) => boolean): tf.Variable[] {
    return [...this.trainableParams(filter).values()];
  }

  /** Number of parameters (heads included), optionally only those whose name passes `filter`. */
  numParams(filter?: (name: string) => boolean): number {
    let n = 0;
    for (const [name, v] of this.params) if (!filter || filter(name)) n += v.size;
    return n;
  }

  /** A copy with the same weights (e.g. the frozen reference policy: clone({ trainable: false })). */
  clone(options: Omit<GPTOptions, "init" | "seed"> = {}): GPT {
    if (this.lora) {
      throw new Error(
        `clone: ${this.name} has LoRA adapters, which a clone would drop; for the reference policy use withoutAdapters(model), or mergeLora first`,
      );
    }
    const copy = new GPT(this.config, {
      valueHead: this.hasValueHead,
      rewardHead: this.hasRewardHead,
      ...options,
      init: "zeros",
    });
    copy.loadWeights(this.params);
    return copy;
  }

  dispose(): void {
    this.lora?.dispose();
    this.lora = undefined;
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
    this.lmHeadCache?.tableT.dispose();
    this.lmHeadCache = undefined;
  }
}

type WeightPlan = { name: string; tensor: tf.Tensor; transpose: boolean }[];

/**
 * Which checkpoint tensor becomes which parameter of the given `shapes` (see GPT.loadWeights), or an error
 * listing every problem. `currentWte` is the model's own table, for the tied-head check when the
 * checkpoint has lm_head.weight but no wte.weight.
 */
function planWeights(
  shapes: Map<string, number[]>,
  weights: Map<string, tf.Tensor> | Record<string, tf.Tensor>,
  options: LoadWeightsOptions,
  currentWte?: tf.Tensor,
): { plan: WeightPlan; report: LoadReport } {
  const entries = weights instanceof Map ? [...weights.entries()] : Object.entries(weights);
  const report: LoadReport = { loaded: [], ignored: [], missingHeads: [], unexpected: [] };
  const plan: { name: string; tensor: tf.Tensor; transpose: boolean }[] = [];
  const problems: string[] = [];
  let lmHead: { name: string; tensor: tf.Tensor } | undefined;
  const given = new Set<string>();
  for (const [rawName, tensor] of entries) {
    let name = rawName.startsWith("transformer.") ? rawName.slice("transformer.".length) : rawName;
    if (name.startsWith("v_head.summary.")) name = `v_head.${name.slice("v_head.summary.".length)}`;
    if (/^h\.\d+\.attn\.(bias|masked_bias)$/.test(name)) {
      report.ignored.push(rawName);
      continue;
    }
    if (name === "lm_head.weight") {
      lmHead = { name: rawName, tensor };
      continue;
    }
    const expected = shapes.get(name);
    if (!expected) {
      if (name.startsWith("v_head.") || name.startsWith("score.")) report.ignored.push(rawName);
      else report.unexpected.push(rawName);
      continue;
    }
    if (given.has(name)) {
      problems.push(`${name}: given twice (with and without a prefix?)`);
      continue;
    }
    given.add(name);
    const got = tensor.shape;
    const sameShape = got.length === expected.length && got.every((d, k) => d === expected[k]);
    const headWeight = name === "v_head.weight" || name === "score.weight";
    const transposed = headWeight && got.length === 2 && got[0] === expected[1] && got[1] === expected[0];
    if (!sameShape && !transposed) {
      problems.push(`${rawName}: expected shape [${expected}], got [${got}]`);
      continue;
    }
    plan.push({ name, tensor, transpose: !sameShape && transposed });
  }
  for (const [name, shape] of shapes) {
    if (given.has(name)) continue;
    if (name.startsWith("v_head.") || name.startsWith("score.")) report.missingHeads.push(name);
    else problems.push(`${name}: missing from the checkpoint (expected shape [${shape}])`);
  }
  if (report.unexpected.length > 0 && !options.allowUnexpected) {
    problems.push(`unexpected tensors (pass allowUnexpected to skip them): ${report.unexpected.join(", ")}`);
  }
  if (lmHead) {
    const wte = plan.find((p) => p.name === "wte.weight")?.tensor ?? currentWte;
    const tied = tf.tidy(() => {
      if (!wte) return false;
      const a = lmHead.tensor;
      if (a.shape.length !== 2 || a.shape[0] !== wte.shape[0] || a.shape[1] !== wte.shape[1]) return false;
      return tf.max(tf.abs(tf.sub(tf.cast(a, "float32"), tf.cast(wte, "float32")))).dataSync()[0] === 0;
    });
    if (tied) report.ignored.push(lmHead.name);
    else problems.push(`${lmHead.name}: differs from wte.weight; only a tied LM head is supported`);
  }
  if (problems.length > 0) {
    throw new Error(`loadWeights: ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
  }
  return { plan, report };
}

/**
 * A checkpoint tensor as a float32 parameter (transposed for a [1, d] head weight): the tensor itself when
 * it is one already (a variable may share a tensor's data: tensors are immutable).
 */
function asParameter(tensor: tf.Tensor, transpose: boolean): tf.Tensor {
  if (!transpose && tensor.dtype === "float32") return tensor;
  return tf.tidy(() => tf.cast(transpose ? tf.transpose(tensor) : tensor, "float32"));
}

/** Parameter names and shapes of a GPT with `config` and the given heads, without building it. */
export function gptParameterShapes(
  config: GPTConfig,
  heads: { valueHead?: boolean; rewardHead?: boolean } = {},
): Map<string, number[]> {
  const specs = parameterSpecs(config, heads.valueHead === true, heads.rewardHead === true);
  return new Map(specs.map((spec) => [spec.name, spec.shape]));
}

/** Parameter names, shapes and initialisation (GPT-2 / nanoGPT). */
function parameterSpecs(config: GPTConfig, valueHead: boolean, rewardHead: boolean): ParamSpec[] {
  const d = config.nEmbd;
  // GPT-2 scales the init of projections into the residual stream by 1/sqrt(2 nLayer) (two per block).
  const residualStd = config.initializerRange / Math.sqrt(2 * config.nLayer);
  const specs: ParamSpec[] = [
    { name: "wte.weight", shape: [config.vocabSize, d], init: "normal" },
    { name: "wpe.weight", shape: [config.nPositions, d], init: "normal" },
  ];
  const layerNormSpecs = (module: string): ParamSpec[] => [
    { name: `${module}.weight`, shape: [d], init: "ones" },
    { name: `${module}.bias`, shape: [d], init: "zeros" },
  ];
  for (let i = 0; i < config.nLayer; i++) {
    const h = `h.${i}`;
    specs.push(
      ...layerNormSpecs(`${h}.ln_1`),
      { name: `${h}.attn.c_attn.weight`, shape: [d, 3 * d], init: "normal" },
      { name: `${h}.attn.c_attn.bias`, shape: [3 * d], init: "zeros" },
      { name: `${h}.attn.c_proj.weight`, shape: [d, d], init: "normal", std: residualStd },
      { name: `${h}.attn.c_proj.bias`, shape: [d], init: "zeros" },
      ...layerNormSpecs(`${h}.ln_2`),
      { name: `${h}.mlp.c_fc.weight`, shape: [d, 4 * d], init: "normal" },
      { name: `${h}.mlp.c_fc.bias`, shape: [4 * d], init: "zeros" },
      { name: `${h}.mlp.c_proj.weight`, shape: [4 * d, d], init: "normal", std: residualStd },
      { name: `${h}.mlp.c_proj.bias`, shape: [d], init: "zeros" },
    );
  }
  specs.push(...layerNormSpecs("ln_f"));
  // PPO starts from a value head of zeros, so early value estimates do not swamp the advantages.
  if (valueHead) {
    specs.push(
      { name: "v_head.weight", shape: [d, 1], init: "zeros" },
      { name: "v_head.bias", shape: [1], init: "zeros" },
    );
  }
  // Stored [d, 1] like every other weight here; Hugging Face's GPT2ForSequenceClassification keeps
  // score.weight as nn.Linear's [num_labels = 1, d]: transpose on export (loadWeights accepts both).
  if (rewardHead)
    specs.push({ name: "score.weight", shape: [d, 1], init: "normal", std: 1 / Math.sqrt(d + 1) });
  return specs;
}

/**
 * `model` with an embedding table of `vocabSize` rows, for a tokenizer that gained tokens (e.g.
 * `Tokenizer.withChatTokens`). Every other weight and the old rows are kept exactly, so the logits of the old
 * tokens do not change; each new row starts at the mean of the old rows plus a small deterministic jitter
 * (transformers' `mean_resizing`, which keeps a new token from dominating the softmax before it is
 * trained, and the jitter keeps two new tokens apart). Returns a new model and disposes `model`.
 */
export function resizeTokenEmbeddings(model: GPT, vocabSize: number): GPT {
  const old = model.config.vocabSize;
  if (!Number.isInteger(vocabSize) || vocabSize < old) {
    throw new Error(`resizeTokenEmbeddings: vocabSize ${vocabSize} must be an integer of at least ${old}`);
  }
  if (vocabSize === old) return model;
  if (model.lora) {
    throw new Error("resizeTokenEmbeddings: the model has LoRA adapters; add tokens before attaching them");
  }
  const wte = model.param("wte.weight");
  const resized = new GPT(
    { ...model.config, vocabSize },
    {
      init: "zeros",
      valueHead: model.hasValueHead,
      rewardHead: model.hasRewardHead,
      trainable: wte.trainable,
    },
  );
  const added = vocabSize - old;
  const jitter = normalSamples(
    added * model.config.nEmbd,
    model.config.initializerRange * 0.02,
    mulberry32(hashSeed(vocabSize, "resizeTokenEmbeddings")),
  );
  const grown = tf.tidy(() =>
    tf.concat(
      [
        wte,
        tf.add(tf.tile(tf.mean(wte, 0, true), [added, 1]), tf.tensor2d(jitter, [added, model.config.nEmbd])),
      ],
      0,
    ),
  );
  const weights = model.namedWeights();
  weights.set("wte.weight", grown);
  resized.loadWeights(weights);
  grown.dispose();
  model.dispose();
  return resized;
}
