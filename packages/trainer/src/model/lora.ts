/**
 * LoRA (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models") on GPT-2's Conv1D layers:
 * a frozen weight W [in, out] gains a trainable low-rank update, y = x W + b + (α/r) · drop(x) A B with
 * A [in, r] and B [r, out]. B starts at zero, so a fresh adapter leaves the model exactly as it was.
 *
 * Names and initialisation follow Hugging Face PEFT, so saved adapters load there (checkpoint/peft.ts):
 * targets are module-name suffixes (`c_attn` matches `h.N.attn.c_attn`, `c_proj` matches both the
 * attention's and the MLP's projection), A is kaiming-uniform with a = √5 (U(±1/√in)), B zeros,
 * scaling α / r. Here A and B are kept in the Conv1D layout [in, r], [r, out] (x A B needs no transpose);
 * PEFT's `lora_A.weight` [r, in] and `lora_B.weight` [out, r] are their transposes.
 *
 * The adapters live beside the base parameters (`model.lora`), not in `model.params`: a base checkpoint
 * loads and saves unchanged, and `forward(ids, { adapters: false })` is the base model itself — the
 * reference policy of RL with LoRA, without a second copy of the weights.
 */
import * as tf from "@tensorflow/tfjs";
import type { GPTConfig } from "./config";
import type { GPT } from "./gpt";
import { linear } from "./ops";
import { hashSeed, mulberry32 } from "./rng";

/** GPT-2's Conv1D modules LoRA can adapt (PEFT's names). */
export const LORA_TARGET_MODULES = ["c_attn", "c_proj", "c_fc"] as const;

export interface LoraSettings {
  /** Rank r of the update. */
  r: number;
  /** α: the update is scaled by α / r. */
  alpha: number;
  /** Dropout on the adapter's input, in training forward passes only (0: none). */
  dropout: number;
  /** Module-name suffixes to adapt (`c_attn`, `c_proj`, `c_fc`, or a full path such as `h.0.attn.c_attn`). */
  targets: string[];
}

type Adapter = { A: tf.Variable; B: tf.Variable; nIn: number; nOut: number };

/** Every Conv1D module of a GPT with `config`, with its [in, out]. */
export function conv1dModules(config: GPTConfig): Map<string, [number, number]> {
  const d = config.nEmbd;
  const modules = new Map<string, [number, number]>();
  for (let i = 0; i < config.nLayer; i++) {
    modules.set(`h.${i}.attn.c_attn`, [d, 3 * d]);
    modules.set(`h.${i}.attn.c_proj`, [d, d]);
    modules.set(`h.${i}.mlp.c_fc`, [d, 4 * d]);
    modules.set(`h.${i}.mlp.c_proj`, [4 * d, d]);
  }
  return modules;
}

/**
 * The modules `targets` selects, as PEFT matches them: a target equals the module path or is a suffix of
 * it after a dot. Throws naming a target that matches nothing.
 */
export function loraTargetModules(config: GPTConfig, targets: string[]): string[] {
  if (targets.length === 0) throw new Error("lora.targets: give at least one module (c_attn, c_proj, c_fc)");
  const all = [...conv1dModules(config).keys()];
  const matches = (module: string, target: string) => module === target || module.endsWith(`.${target}`);
  for (const target of targets) {
    if (!all.some((module) => matches(module, target))) {
      throw new Error(
        `lora.targets: "${target}" matches no module of this GPT (use ${LORA_TARGET_MODULES.join(", ")}, attn.c_proj, mlp.c_proj or a path such as h.0.attn.c_attn)`,
      );
    }
  }
  return all.filter((module) => targets.some((target) => matches(module, target)));
}

export function validateLoraSettings(settings: LoraSettings): void {
  if (!Number.isInteger(settings.r) || settings.r < 1) {
    throw new Error(`lora.r must be a positive integer, got ${settings.r}`);
  }
  if (!(settings.alpha > 0)) throw new Error(`lora.alpha must be > 0, got ${settings.alpha}`);
  if (!(settings.dropout >= 0 && settings.dropout < 1)) {
    throw new Error(`lora.dropout must be in [0, 1), got ${settings.dropout}`);
  }
}

let adapterCount = 0;

/** The adapters of one model: A and B per targeted module, and PEFT's scaling α / r. */
export class LoraAdapters {
  readonly settings: LoraSettings;
  readonly scaling: number;
  /** By module path (`h.0.attn.c_attn`). */
  readonly modules = new Map<string, Adapter>();
  /** Where the base model is (PEFT's base_model_name_or_path): written with the adapter, read to load it. */
  baseModel: string | undefined;
  private dropoutCalls = 0;

  constructor(
    config: GPTConfig,
    settings: LoraSettings,
    options: { seed?: number; name?: string; init?: "peft" | "zeros" } = {},
  ) {
    validateLoraSettings(settings);
    this.settings = { ...settings, targets: [...settings.targets] };
    this.scaling = settings.alpha / settings.r;
    adapterCount += 1;
    const prefix = options.name ?? `lora${adapterCount}`;
    const seed = options.seed ?? 0;
    const shapes = conv1dModules(config);
    for (const module of loraTargetModules(config, settings.targets)) {
      const [nIn, nOut] = shapes.get(module) as [number, number];
      // PEFT's default: kaiming_uniform_(lora_A, a=√5) on [r, in], i.e. U(-1/√in, 1/√in); B = 0.
      const bound = 1 / Math.sqrt(nIn);
      const random = mulberry32(hashSeed(seed, `${module}.lora_A`));
      const a = new Float32Array(nIn * settings.r);
      if (options.init !== "zeros") for (let k = 0; k < a.length; k++) a[k] = (2 * random() - 1) * bound;
      const A = tf.tidy(() =>
        tf.variable(tf.tensor2d(a, [nIn, settings.r]), true, `${prefix}/${module}.lora_A`),
      );
      const B = tf.tidy(() => tf.variable(tf.zeros([settings.r, nOut]), true, `${prefix}/${module}.lora_B`));
      this.modules.set(module, { A, B, nIn, nOut });
    }
  }

  /** Adapter variables by name (`h.0.attn.c_attn.lora_A.weight`; our [in, r] / [r, out] layout). */
  namedVariables(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const [module, { A, B }] of this.modules) {
      out.set(`${module}.lora_A.weight`, A);
      out.set(`${module}.lora_B.weight`, B);
    }
    return out;
  }

  /** Trainable parameters of the adapters. */
  numParams(): number {
    let n = 0;
    for (const { A, B } of this.modules.values()) n += A.size + B.size;
    return n;
  }

  /** (α/r) · drop(x) A B for `module`, or undefined when it has no adapter. x [..., in] -> [..., out]. */
  delta(x: tf.Tensor, module: string, training: boolean): tf.Tensor | undefined {
    const adapter = this.modules.get(module);
    if (!adapter) return undefined;
    const rate = this.settings.dropout;
    let input = x;
    if (training && rate > 0) {
      this.dropoutCalls += 1;
      input = tf.dropout(x, rate, undefined, this.dropoutCalls);
    }
    // Two thin products through ops.linear, whose gradients use explicit transposes (wasm's transposed
    // matMul is 10-20x slower). Scaling A's output ([N, r]) is the cheapest place for α/r.
    const down = tf.mul(linear(input, adapter.A as tf.Tensor2D), this.scaling); // [..., r]
    return linear(down, adapter.B as tf.Tensor2D); // [..., out]
  }

  /** ΔW = (α/r) A B [in, out] of `module` (what merging adds to the base weight). */
  deltaWeight(module: string): tf.Tensor2D {
    const adapter = this.modules.get(module);
    if (!adapter) throw new Error(`LoRA has no adapter on "${module}"`);
    return tf.tidy(() => tf.mul(tf.matMul(adapter.A, adapter.B), this.scaling) as tf.Tensor2D);
  }

  /**
   * Assign A and B from tensors named like `namedVariables()` (our layout). Checks every name and shape
   * before assigning anything.
   */
  load(weights: Map<string, tf.Tensor>): void {
    const own = this.namedVariables();
    const problems: string[] = [];
    for (const [name, v] of own) {
      const t = weights.get(name);
      if (!t) problems.push(`${name}: missing (expected shape [${v.shape}])`);
      else if (t.shape.length !== v.shape.length || t.shape.some((d, k) => d !== v.shape[k])) {
        problems.push(`${name}: expected shape [${v.shape}], got [${t.shape}]`);
      }
    }
    for (const name of weights.keys()) if (!own.has(name)) problems.push(`${name}: no such adapter`);
    if (problems.length > 0) {
      throw new Error(`LoRA weights: ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
    }
    for (const [name, v] of own) tf.tidy(() => v.assign(tf.cast(weights.get(name) as tf.Tensor, "float32")));
  }

  dispose(): void {
    for (const { A, B } of this.modules.values()) {
      A.dispose();
      B.dispose();
    }
    this.modules.clear();
  }
}

export interface AddLoraOptions {
  /** Seed of A's initialisation (default 0). */
  seed?: number;
  /**
   * Base parameters that stay trainable (PEFT's modules_to_save), e.g. a reward model's `score.weight`.
   * Everything else in `model.params` is frozen.
   */
  trainable?: string[];
  /** The base checkpoint's directory, saved with the adapter so that it loads on its own. */
  baseModel?: string;
}

/**
 * Attach fresh adapters to `model` and freeze its base parameters (but `options.trainable`). Afterwards
 * `model.trainableParams()` is the adapters (+ the named heads), and forward passes apply them unless
 * called with `adapters: false`.
 */
export function addLora(model: GPT, settings: LoraSettings, options: AddLoraOptions = {}): LoraAdapters {
  if (model.lora) throw new Error(`${model.name} already has LoRA adapters`);
  const keep = new Set(options.trainable ?? []);
  for (const name of keep) model.param(name); // throws naming an unknown parameter
  const adapters = new LoraAdapters(model.config, settings, {
    seed: options.seed,
    name: `${model.name}/lora`,
  });
  adapters.baseModel = options.baseModel;
  for (const [name, v] of model.params) v.trainable = keep.has(name);
  model.lora = adapters;
  return adapters;
}

/**
 * Fold the adapters into the base weights (W ← W + (α/r) A B), then drop them: the result computes what
 * the adapted model computed, with no adapter left (a full checkpoint; `rlhf merge`). The base parameters
 * become trainable again.
 */
export function mergeLora(model: GPT): void {
  const adapters = model.lora;
  if (!adapters) throw new Error(`${model.name} has no LoRA adapters to merge`);
  for (const module of adapters.modules.keys()) {
    const weight = model.param(`${module}.weight`);
    tf.tidy(() => weight.assign(tf.add(weight, adapters.deltaWeight(module))));
  }
  adapters.dispose();
  model.lora = undefined;
  for (const v of model.params.values()) v.trainable = true;
}

/**
 * The reference policy of RL with LoRA: a view of `model` whose forward passes run with the adapters off —
 * the same weights, no second copy (TRL/PEFT's `disable_adapter()`). Everything else is the model's own;
 * disposing the view does nothing (the policy owns the weights).
 */
export function withoutAdapters(model: GPT): GPT {
  return new Proxy(model, {
    get(target, property, receiver) {
      if (property === "forward") {
        return (inputIds: tf.Tensor, options: Parameters<GPT["forward"]>[1] = {}) =>
          target.forward(inputIds, { ...options, adapters: false });
      }
      if (property === "dispose") return () => {};
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
