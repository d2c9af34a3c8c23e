/**
 * AdamW with its moments outside the tfjs heap: Float32Arrays in ordinary JavaScript memory, the update
 * computed in JavaScript from each gradient's values. Same arithmetic as train/adamw.ts's AdamW
 * (Loshchilov & Hutter, `p ← p − lr·(m̂/(√v̂+ε) + λ·p)`), same checkpoint names (`adam_m.<param>`,
 * `adam_v.<param>`).
 *
 * Why: tfjs-backend-wasm's heap is capped at 4 GiB and never shrinks. Full fine-tuning of GPT-2 small keeps
 * 0.5 GB of weights and 0.5 GB of gradients there; AdamW's two moments add 1 GB, and updating a moment in
 * tfjs makes four or five temporaries the size of the parameter (0.75 GB for the 50,257 x 768 embedding),
 * which is what ran the heap out. Here the heap holds one new copy of one parameter at a time.
 * JavaScript's own memory is limited by the machine, not by wasm's 32-bit addresses.
 */
import * as tf from "@tensorflow/tfjs";
import type { F32Tensor } from "../checkpoint/safetensors";

export interface HostAdamWOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  /** Which parameters decay (default: rank ≥ 2, as train/adamw.ts). */
  decays?: (name: string, variable: tf.Variable) => boolean;
}

export class HostAdamW {
  /** Optimiser steps taken (for bias correction). */
  step = 0;
  readonly m = new Map<string, Float32Array>();
  readonly v = new Map<string, Float32Array>();

  constructor(
    readonly params: Map<string, tf.Variable>,
    readonly options: HostAdamWOptions,
  ) {
    for (const [name, p] of params) {
      this.m.set(name, new Float32Array(p.size));
      this.v.set(name, new Float32Array(p.size));
    }
  }

  /** Bytes of moments held (outside the tfjs heap). */
  get stateBytes(): number {
    let n = 0;
    for (const m of this.m.values()) n += 2 * m.byteLength;
    return n;
  }

  /**
   * One update with gradients by parameter name (missing names are left alone) at learning rate `lr`;
   * `gradScale` multiplies every gradient first (global-norm clipping without a scaled copy in the heap).
   */
  apply(grads: Map<string, tf.Tensor>, lr: number, gradScale = 1): void {
    this.step += 1;
    const { beta1, beta2, epsilon, weightDecay } = this.options;
    const decays = this.options.decays ?? ((_: string, p: tf.Variable) => p.rank >= 2);
    // lr·m̂/(√v̂+ε) with m̂ = m / bias1, v̂ = v / bias2, as train/adamw.ts folds them.
    const step = lr / (1 - beta1 ** this.step);
    const bias2 = 1 - beta2 ** this.step;
    for (const [name, p] of this.params) {
      const grad = grads.get(name);
      if (!grad) continue;
      const g = grad.dataSync() as Float32Array;
      const m = this.m.get(name) as Float32Array;
      const v = this.v.get(name) as Float32Array;
      const w = p.dataSync().slice() as Float32Array; // a copy we may write
      const keep = weightDecay > 0 && decays(name, p) ? 1 - lr * weightDecay : 1;
      for (let i = 0; i < w.length; i++) {
        const gi = (g[i] as number) * gradScale;
        const mi = beta1 * (m[i] as number) + (1 - beta1) * gi;
        const vi = beta2 * (v[i] as number) + (1 - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = (w[i] as number) * keep - (step * mi) / (Math.sqrt(vi / bias2) + epsilon);
      }
      const next = tf.tensor(w, p.shape, "float32");
      p.assign(next);
      next.dispose();
    }
  }

  /** Moments for the checkpoint, as float32 arrays (no copy into the heap). */
  stateTensors(): Map<string, F32Tensor> {
    const out = new Map<string, F32Tensor>();
    for (const [name, m] of this.m) {
      out.set(`adam_m.${name}`, {
        dtype: "F32",
        shape: [...(this.params.get(name) as tf.Variable).shape],
        data: m,
      });
    }
    for (const [name, v] of this.v) {
      out.set(`adam_v.${name}`, {
        dtype: "F32",
        shape: [...(this.params.get(name) as tf.Variable).shape],
        data: v,
      });
    }
    return out;
  }

  loadState(tensors: Map<string, tf.Tensor | F32Tensor>, step: number): void {
    const read = (t: tf.Tensor | F32Tensor) =>
      t instanceof tf.Tensor ? (t.dataSync() as Float32Array) : t.data;
    for (const [prefix, moments] of [
      ["adam_m", this.m],
      ["adam_v", this.v],
    ] as const) {
      for (const [name, target] of moments) {
        const saved = tensors.get(`${prefix}.${name}`);
        if (!saved) continue;
        const values = read(saved);
        if (values.length !== target.length) {
          throw new Error(
            `${prefix}.${name}: ${values.length} values saved, the parameter has ${target.length}`,
          );
        }
        target.set(values);
      }
    }
    this.step = step;
  }

  dispose(): void {
    this.m.clear();
    this.v.clear();
  }
}
