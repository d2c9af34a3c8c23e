import type { OptimConfig } from "@rlhf/core/configs";
import * as tf from "@tensorflow/tfjs";
import { HostAdamW } from "../parallel/host-adamw";

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  /** Which parameters decay: by default matrices only (not biases, LayerNorm gains or 1-D tensors). */
  decays?: (name: string, variable: tf.Variable) => boolean;
}

/** nanoGPT's rule: every tensor of rank ≥ 2 decays (matrices and embeddings); biases and LayerNorm do not. */
export const decayMatrices = (_name: string, variable: tf.Variable) => variable.rank >= 2;

/**
 * AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, `p ← p − lr·(m̂/(√v̂+ε) + λ·p)`.
 * Moments are tf.Variables kept across steps and saved with checkpoints so a resumed run continues exactly.
 */
export class AdamW {
  /** Optimiser steps taken (for bias correction). */
  step = 0;
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();

  constructor(
    readonly params: Map<string, tf.Variable>,
    readonly options: AdamWOptions,
  ) {
    for (const [name, p] of params) {
      // tf.Variable names are process-wide: derive them from the parameter's own (model-prefixed) name.
      this.m.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false, `adam_m/${p.name}`)),
      );
      this.v.set(
        name,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false, `adam_v/${p.name}`)),
      );
    }
  }

  /** One update with gradients by parameter name (missing names are left alone) at learning rate `lr`. */
  apply(grads: Map<string, tf.Tensor>, lr: number): void {
    this.step += 1;
    const { beta1, beta2, epsilon, weightDecay } = this.options;
    const decays = this.options.decays ?? decayMatrices;
    const bias1 = 1 - beta1 ** this.step;
    const bias2 = 1 - beta2 ** this.step;
    for (const [name, p] of this.params) {
      const g = grads.get(name);
      if (!g) continue;
      const m = this.m.get(name)!;
      const v = this.v.get(name)!;
      tf.tidy(() => {
        const mNext = m.mul(beta1).add(g.mul(1 - beta1));
        const vNext = v.mul(beta2).add(g.square().mul(1 - beta2));
        m.assign(mNext);
        v.assign(vNext);
        // lr·m̂/(√v̂+ε), with the bias corrections folded into scalars.
        const update = mNext.div(vNext.div(bias2).sqrt().add(epsilon)).mul(lr / bias1);
        const decayed = weightDecay > 0 && decays(name, p) ? p.mul(1 - lr * weightDecay) : p;
        p.assign(decayed.sub(update));
      });
    }
  }

  /** Moments as plain named tensors, for the checkpoint (`adam_m.<param>`, `adam_v.<param>`). */
  stateTensors(): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const [name, m] of this.m) out.set(`adam_m.${name}`, m);
    for (const [name, v] of this.v) out.set(`adam_v.${name}`, v);
    return out;
  }

  loadState(tensors: Map<string, tf.Tensor>, step: number): void {
    for (const [name, m] of this.m) {
      const saved = tensors.get(`adam_m.${name}`);
      if (saved) m.assign(saved.reshape(m.shape));
    }
    for (const [name, v] of this.v) {
      const saved = tensors.get(`adam_v.${name}`);
      if (saved) v.assign(saved.reshape(v.shape));
    }
    this.step = step;
  }

  dispose(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/**
 * Above this many trainable parameters on wasm or cpu, AdamW's moments live outside the tfjs heap
 * (parallel/host-adamw.ts): at 8 bytes a parameter they would take 1 GB of tfjs-wasm's 4 GiB heap for
 * GPT-2 small. Smaller models keep tfjs's AdamW (the same update; results identical to the last digit).
 */
export const HOST_MOMENTS_ABOVE = 32_000_000;

export type Optimizer = AdamW | HostAdamW;

/** The one place a trainer's optimiser is built: AdamW with the config's β1, β2, ε and weight decay. */
export function createOptimizer(
  params: Map<string, tf.Variable>,
  config: Pick<OptimConfig, "beta1" | "beta2" | "epsilon" | "weightDecay">,
  decays?: AdamWOptions["decays"],
): Optimizer {
  const options: AdamWOptions = {
    beta1: config.beta1,
    beta2: config.beta2,
    epsilon: config.epsilon,
    weightDecay: config.weightDecay,
    ...(decays ? { decays } : {}),
  };
  return optimizerKind(params) === "host" ? new HostAdamW(params, options) : new AdamW(params, options);
}

/** Where createOptimizer keeps AdamW's moments for these parameters: the tfjs heap, or host memory. */
export function optimizerKind(params: Map<string, tf.Variable>): "heap" | "host" {
  let count = 0;
  for (const p of params.values()) count += p.size;
  const heapBound = tf.getBackend() === "wasm" || tf.getBackend() === "cpu";
  return heapBound && count > HOST_MOMENTS_ABOVE ? "host" : "heap";
}

/** Global L2 norm of the gradients. */
function globalNorm(grads: Map<string, tf.Tensor>): number {
  const normTensor = tf.tidy(() => tf.addN([...grads.values()].map((g) => g.square().sum())).sqrt());
  const norm = normTensor.dataSync()[0]!;
  normTensor.dispose();
  return norm;
}

/**
 * Clip gradients to a global L2 norm (in place in the returned map; the inputs are disposed when replaced).
 * Returns the norm before clipping, which the trainers log as `grad_norm`.
 */
export function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): number {
  const norm = globalNorm(grads);
  if (maxNorm > 0 && norm > maxNorm) {
    const scale = maxNorm / (norm + 1e-6);
    for (const [name, g] of grads) {
      grads.set(
        name,
        tf.tidy(() => g.mul(scale)),
      );
      g.dispose();
    }
  }
  return norm;
}

export class NonFiniteLossError extends Error {
  override name = "NonFiniteLossError";
}

/**
 * One optimiser step from accumulated gradients, shared by every trainer: a NaN or infinite loss (or
 * gradient norm) stops the run before the optimiser — or a checkpoint — can spread it; otherwise clip to
 * the global norm and apply. The gradients are disposed either way. Returns the norm before clipping.
 */
export function optimizerStep(
  optimizer: Optimizer,
  grads: Map<string, tf.Tensor>,
  o: { loss: number; lr: number; gradClip: number; step: number },
): number {
  try {
    if (!Number.isFinite(o.loss)) {
      throw new NonFiniteLossError(
        `loss is ${o.loss} at step ${o.step}; stopping without saving (lower the learning rate?)`,
      );
    }
    // HostAdamW scales while it reads each gradient: no clipped copy of every gradient on the heap.
    const host = optimizer instanceof HostAdamW;
    const gradNorm = host ? globalNorm(grads) : clipByGlobalNorm(grads, o.gradClip);
    if (!Number.isFinite(gradNorm)) {
      throw new NonFiniteLossError(`gradient norm is ${gradNorm} at step ${o.step}; stopping without saving`);
    }
    if (host) {
      const clip = o.gradClip > 0 && gradNorm > o.gradClip ? o.gradClip / (gradNorm + 1e-6) : 1;
      optimizer.apply(grads, o.lr, clip);
    } else optimizer.apply(grads, o.lr);
    return gradNorm;
  } finally {
    for (const g of grads.values()) g.dispose();
  }
}
