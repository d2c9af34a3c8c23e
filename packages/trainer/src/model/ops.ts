/**
 * The GPT's tensor operations, each with a hand-written gradient (`tf.customGrad`).
 *
 * Why not tfjs's autodiff: on tfjs-backend-wasm (STACK.md)
 * - the gradient of `tf.gather` needs UnsortedSegmentSum, which wasm lacks, so an embedding could not train;
 * - the stock wasm `BatchMatMul` runs batched and transposed products in a scalar loop, 10-20x slower
 *   than XNNPACK's plain product (backend.ts and native-kernels.ts replace it);
 * - element-wise chains are slow, and autodiff of layer norm / GELU / softmax makes long ones; `tanh`,
 *   `exp`, `log` and `logSoftmax` cost 10-40x an add on wasm, `sigmoid` and `softmax` 3x.
 * So every backward pass below is written out, products with transposed operands as `tf.matMul`'s
 * transposeA/transposeB (no separate transpose: the native kernels of src/native-kernels.ts read a
 * transposed operand while packing it; the wasm backend's own path makes one explicit transpose, as this
 * code did by hand before), and the element-wise work with as few kernels as we could. The same code runs
 * on every backend.
 *
 * Layouts: a linear weight is [in, out] (GPT-2's Conv1D), so y = x @ W + b. Attention works on heads
 * stacked in front of the batch, [nh * B, T, hs], which makes q, k and v contiguous slices.
 *
 * Measured (tfjs-wasm with backend.ts's kernel patches but without the native kernels, `tiny` config,
 * batch 16 x 128, one training step with Adam, ~1.0 s on an uncontended core): products 67% (BatchMatMul
 * 50% — the backward pass and attention; _FusedMatMul 17% — forward linears), Transpose 15% (mostly the
 * [2048, 512] operands of weight gradients), Multiply 6%, Sum 4%, everything else < 2% each. XNNPACK runs
 * these products at 4-20 GFLOP/s on one thread and repacks a product's right operand at ~8 ns/element,
 * hence the operand order in attention. The native kernels run them 3-8x faster
 * (docs/benchmarks.md, "Levers tried"); src/parallel splits the step across cores.
 */
import * as tf from "@tensorflow/tfjs";

/**
 * Kernels that src/native-kernels.ts adds to the wasm backend in Node: GPT-2's tanh GELU ({ x }) and its
 * gradient ({ x, dy }) in one pass each. gelu() uses them when the active backend has them.
 */
export const GELU_KERNEL = "RlhfGelu";
export const GELU_GRAD_KERNEL = "RlhfGeluGrad";
/**
 * Layer norm in one kernel each way, from the same module: { x [N, d], gamma, beta } with attr eps ->
 * [y, x̂, rstd [N, 1]]; { dy, xhat, rstd, gamma } -> [dx, dγ, dβ]. layerNorm() uses them when present.
 */
export const LAYER_NORM_KERNEL = "RlhfLayerNorm";
export const LAYER_NORM_GRAD_KERNEL = "RlhfLayerNormGrad";

/** Whether the active backend has kernel `name` (the native kernels are there on wasm in Node only). */
function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** Additive attention bias for masked positions; finite so that no row can produce NaN. */
export const MASKED_BIAS = -1e9;

/**
 * Run `forward` on `inputs` as one differentiable op. `forward` returns the value, the tensors its
 * backward pass needs (`saved`; tfjs keeps them only while a gradient tape records) and `gradFunc`, which
 * gives one gradient per input. Everything else made in `forward` is freed when it returns.
 */
function customOp<I extends tf.Tensor[]>(
  inputs: [...I],
  forward: (inputs: I) => {
    value: tf.Tensor;
    saved: tf.Tensor[];
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
  },
): tf.Tensor {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const { value, saved, gradFunc } = forward(args.slice(0, -1) as I);
    save(saved);
    // tfjs calls a custom gradient outside any tidy and frees nothing until the whole backward pass ends:
    // without this tidy every layer's transposes, dP, dS, ... stayed alive to the end (~0.2 GB per GPT-2
    // small layer at 2 x 128 tokens, which ran the 4 GiB heap out in the backward pass).
    return { value, gradFunc: (dy: tf.Tensor, kept: tf.Tensor[]) => tf.tidy(() => gradFunc(dy, kept)) };
  });
  return op(...inputs);
}

function lastDim(x: tf.Tensor): number {
  return x.shape[x.shape.length - 1] as number;
}

/** [..., n] -> [rows, n] */
function as2d(x: tf.Tensor): tf.Tensor2D {
  const n = lastDim(x);
  return x.reshape([x.size / n, n]);
}

/**
 * Weight (and bias) gradient of y = x @ W + b from x [N, in] and dy [N, out]: dW = xᵀ dy, db = Σ_rows dy,
 * computed as 1ᵀ dy (a sum over axis 0 is a transpose and a sum on wasm).
 */
function weightGrad(
  x2: tf.Tensor2D,
  dy2: tf.Tensor2D,
  withBias: boolean,
): { dW: tf.Tensor2D; db?: tf.Tensor1D } {
  const dW = tf.matMul<tf.Tensor2D>(x2, dy2, true, false); // [in, out]
  if (!withBias) return { dW };
  const [rows, nOut] = dy2.shape;
  return { dW, db: tf.matMul(tf.ones([1, rows]), dy2).reshape<tf.Tensor1D>([nOut]) };
}

/**
 * A non-trainable variable (a frozen base under LoRA, a reference model). tfjs's customGrad computes every
 * input's gradient, wanted or not: an op taking such a weight as a constant skips products that cost as much
 * as full fine-tuning's (for GPT-2 small the tied LM head's alone is 50,257 x d x tokens).
 */
function isFrozen(t: tf.Tensor): boolean {
  return t instanceof tf.Variable && !t.trainable;
}

/**
 * y = x @ W (+ b) over the last axis of x. W: [in, out]. Backward: dx = dy @ Wᵀ, dW = xᵀ @ dy,
 * db = Σ_rows dy.
 */
export function linear(x: tf.Tensor, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor {
  const outShape = [...x.shape.slice(0, -1), w.shape[1]];
  if (isFrozen(w) && (!b || isFrozen(b))) {
    // A frozen weight (LoRA's base) is a constant of the op: no dW/db products are computed at all.
    return customOp([x], ([xIn]) => {
      const x2 = as2d(xIn);
      const y = b ? tf.fused.matMul({ a: x2, b: w, bias: b }) : tf.matMul(x2, w);
      return {
        saved: [],
        value: y.reshape(outShape),
        gradFunc: (dy) => [tf.matMul(as2d(dy), w, false, true).reshape(xIn.shape)],
      };
    });
  }
  if (b) {
    return customOp([x, w, b], ([xIn, wIn, bIn]) => {
      const x2 = as2d(xIn);
      const y = tf.fused.matMul({ a: x2, b: wIn, bias: bIn });
      return {
        saved: [x2, wIn],
        value: y.reshape(outShape),
        gradFunc: (dy, saved) => {
          const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
          const dy2 = as2d(dy);
          const dx = tf.matMul(dy2, ws, false, true).reshape(xIn.shape);
          const { dW, db } = weightGrad(xs, dy2, true);
          return [dx, dW, db as tf.Tensor1D];
        },
      };
    });
  }
  return customOp([x, w], ([xIn, wIn]) => {
    const x2 = as2d(xIn);
    return {
      saved: [x2, wIn],
      value: tf.matMul(x2, wIn).reshape(outShape),
      gradFunc: (dy, saved) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        const dy2 = as2d(dy);
        const dx = tf.matMul(dy2, ws, false, true).reshape(xIn.shape);
        return [dx, weightGrad(xs, dy2, false).dW];
      },
    };
  });
}

/**
 * y = x @ tableᵀ for a table [V, d] (GPT-2's LM head, tied to the token embedding). `tableT` is the
 * table's explicit transpose [d, V], passed in so callers can cache it between steps; the gradient flows
 * to `table`: dx = dy @ table, dtable = (xᵀ @ dy)ᵀ.
 */
export function tiedLinear(x: tf.Tensor, table: tf.Tensor2D, tableT?: tf.Tensor2D): tf.Tensor {
  const outShape = [...x.shape.slice(0, -1), table.shape[0]];
  if (isFrozen(table)) {
    return customOp([x], ([xIn]) => ({
      saved: [],
      value: tf.matMul(as2d(xIn), tableT ?? tf.transpose(table)).reshape(outShape),
      gradFunc: (dy) => [tf.matMul(as2d(dy), table).reshape(xIn.shape)],
    }));
  }
  return customOp([x, table], ([xIn, tableIn]) => {
    const x2 = as2d(xIn);
    const t = tableT ?? tf.transpose(tableIn);
    return {
      saved: [x2, tableIn],
      value: tf.matMul(x2, t).reshape(outShape),
      gradFunc: (dy, saved) => {
        const [xs, tbl] = saved as [tf.Tensor2D, tf.Tensor2D];
        const dy2 = as2d(dy);
        const dx = tf.matMul(dy2, tbl).reshape(xIn.shape);
        return [dx, tf.matMul(dy2, xs, true, false)]; // dtable = dyᵀ x
      },
    };
  });
}

/**
 * Rows of `table` [V, d] at integer `ids` [...] -> [..., d]. Forward is gatherND; backward scatters
 * dy back with scatterND (which sums repeated ids), because the gradient of tf.gather needs a kernel
 * (UnsortedSegmentSum) that wasm does not have.
 */
export function embedding(ids: tf.Tensor, table: tf.Tensor2D): tf.Tensor {
  const [vocab, width] = table.shape;
  return customOp([table], ([tableIn]) => {
    const indices = tf.cast(ids, "int32").reshape([ids.size, 1]);
    return {
      saved: [indices],
      value: tf.gatherND(tableIn, indices).reshape([...ids.shape, width]),
      gradFunc: (dy, saved) => [
        tf.scatterND(saved[0] as tf.Tensor, dy.reshape([ids.size, width]), [vocab, width]),
      ],
    };
  });
}

/**
 * Layer norm over the last axis: y = (x - μ) / sqrt(σ² + eps) * γ + β.
 * Backward (x̂ the normalised input, g = dy * γ): dx = rstd * (g - mean(g) - x̂ * mean(g * x̂)),
 * dγ = Σ dy * x̂, dβ = Σ dy.
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-5): tf.Tensor {
  if (hasKernel(LAYER_NORM_KERNEL) && x.dtype === "float32") {
    return customOp([x, gamma, beta], ([xIn, gIn, bIn]) => {
      const inputs = { x: as2d(xIn), gamma: gIn, beta: bIn };
      const [y, xhat, rstd] = tf.engine().runKernel(LAYER_NORM_KERNEL, inputs, { eps }) as tf.Tensor[];
      return {
        saved: [xhat as tf.Tensor, rstd as tf.Tensor, gIn],
        value: (y as tf.Tensor).reshape(xIn.shape),
        gradFunc: (dy, [xh, rs, g]) => {
          const grads = { dy: as2d(dy), xhat: xh, rstd: rs, gamma: g } as tf.NamedTensorMap;
          const [dx, dg, db] = tf.engine().runKernel(LAYER_NORM_GRAD_KERNEL, grads) as tf.Tensor[];
          return [(dx as tf.Tensor).reshape(xIn.shape), dg as tf.Tensor, db as tf.Tensor];
        },
      };
    });
  }
  return customOp([x, gamma, beta], ([xIn, gIn, bIn]) => {
    const x2 = as2d(xIn);
    const centred = tf.sub(x2, tf.mean(x2, -1, true));
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centred), -1, true), eps)); // [N, 1]
    const xhat = tf.mul(centred, rstd);
    return {
      saved: [xhat, rstd, gIn],
      value: tf.add(tf.mul(xhat, gIn), bIn).reshape(xIn.shape),
      gradFunc: (dy, saved) => {
        const [xh, rs, g] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
        const dy2 = as2d(dy);
        const gdy = tf.mul(dy2, g);
        const meanGdy = tf.mean(gdy, -1, true);
        const meanGdyXhat = tf.mean(tf.mul(gdy, xh), -1, true);
        const dx = tf.mul(rs, tf.sub(tf.sub(gdy, meanGdy), tf.mul(xh, meanGdyXhat)));
        // dγ = 1ᵀ (dy ⊙ x̂), dβ = 1ᵀ dy as products: a sum over axis 0 is a transpose and a sum on wasm.
        const ones = tf.ones([1, dy2.shape[0]]);
        const columnSums = (t: tf.Tensor) => tf.matMul(ones, t).reshape([dy2.shape[1]]);
        return [dx.reshape(xIn.shape), columnSums(tf.mul(dy2, xh)), columnSums(dy2)];
      },
    };
  });
}

// GPT-2's "gelu_new": 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))), rewritten with 1 + tanh(z) = 2σ(2z) as
// x σ(x (A + B x²)), because tanh is ~15x slower than sigmoid on wasm.
const GELU_A = 2 * Math.sqrt(2 / Math.PI);
const GELU_B = GELU_A * 0.044715;

/**
 * tanh-approximated GELU (GPT-2's "gelu_new"). Forward 6 element-wise kernels, backward 11:
 * with u = x (A + B x²) and s = σ(u), d/dx [x s] = s + x s (1 - s) (A + 3 B x²).
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  // Only x is kept for the backward pass, which recomputes x² and σ(u) (3 element-wise kernels): keeping
  // them cost two more [B, T, 4d] tensors per layer, 0.3 GB for GPT-2 small at 8 x 128 tokens.
  const parts = (xIn: tf.Tensor) => {
    const x2 = tf.square(xIn);
    return { x2, s: tf.sigmoid(tf.mul(xIn, tf.add(tf.mul(x2, GELU_B), GELU_A))) };
  };
  if (hasKernel(GELU_KERNEL) && x.dtype === "float32") {
    // One pass each way (src/native-kernels.ts), the same formulas.
    return customOp([x], ([xIn]) => ({
      saved: [xIn],
      value: tf.engine().runKernel(GELU_KERNEL, { x: xIn }) as tf.Tensor,
      gradFunc: (dy, saved) => [
        tf.engine().runKernel(GELU_GRAD_KERNEL, { x: saved[0] as tf.Tensor, dy }) as tf.Tensor,
      ],
    }));
  }
  return customOp([x], ([xIn]) => {
    const { s } = parts(xIn);
    return {
      saved: [xIn],
      value: tf.mul(xIn, s),
      gradFunc: (dy, saved) => {
        const [xs] = saved as [tf.Tensor];
        const { x2: xsq, s: sig } = parts(xs);
        const du = tf.add(tf.mul(xsq, 3 * GELU_B), GELU_A); // du/dx
        const slope = tf.mul(tf.mul(xs, tf.sub(sig, tf.square(sig))), du); // x σ'(u) du/dx
        return [tf.mul(dy, tf.add(sig, slope))];
      },
    };
  });
}

/** [B, T, 3d] -> q, k, v, each [nh * B, T, hs]. */
export function splitHeads(qkv: tf.Tensor, nHead: number): [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D] {
  return tf.tidy(() => {
    const [batch, time, threeD] = qkv.shape as [number, number, number];
    const hs = threeD / 3 / nHead;
    const heads = tf.transpose(qkv.reshape([batch, time, 3 * nHead, hs]), [2, 0, 1, 3]); // [3nh, B, T, hs]
    // tf.slice, not tf.split: wasm's SplitV copies the whole input once per output.
    const part = (i: number) =>
      tf
        .slice(heads, [i * nHead, 0, 0, 0], [nHead, batch, time, hs])
        .reshape<tf.Tensor3D>([nHead * batch, time, hs]); // [nh*B, T, hs]
    return [part(0), part(1), part(2)];
  });
}

/** [nh * B, T, hs] -> [B, T, nh * hs] */
export function mergeHeads(o: tf.Tensor, nHead: number): tf.Tensor3D {
  return tf.tidy(() => {
    const [nb, time, hs] = o.shape as [number, number, number];
    const batch = nb / nHead;
    const bthd = tf.transpose(o.reshape([nHead, batch, time, hs]), [1, 2, 0, 3]); // [B, T, nh, hs]
    return bthd.reshape([batch, time, nHead * hs]);
  });
}

/** softmax(q kᵀ + bias) for q [nh*B, Tq, hs] (already scaled), k [nh*B, Tk, hs], bias [B|1, Tq, Tk]. */
function attentionProbs(qScaled: tf.Tensor3D, k: tf.Tensor3D, bias: tf.Tensor, nHead: number): tf.Tensor3D {
  const [nb, tq, hs] = qScaled.shape;
  const tk = k.shape[1];
  // One query (a decoding step): (k qᵀ)ᵀ, whose right operand [hs, 1] is cheap to pack, and no transpose.
  const scores =
    tq === 1
      ? tf.matMul(k, qScaled.reshape([nb, hs, 1])) // [nh*B, Tk, 1], same layout as [nh*B, 1, Tk]
      : tf.matMul(qScaled, k, false, true); // [nh*B, Tq, Tk]
  const scores4 = scores.reshape([nHead, nb / nHead, tq, tk]); // [nh, B, Tq, Tk]
  return tf.softmax(tf.add(scores4, bias)).reshape([nb, tq, tk]) as tf.Tensor3D; // [nh*B, Tq, Tk]
}

/**
 * Causal self-attention core: qkv [B, T, 3d] (c_attn's output) -> [B, T, d] (before c_proj).
 * `bias` [B or 1, T, T] holds 0 where a query may attend and MASKED_BIAS elsewhere (see attentionBias).
 *
 * Backward, with S = q kᵀ/√hs + bias, P = softmax(S), O = P v:
 *   dv = Pᵀ dO,  dP = dO vᵀ,  dS = P ⊙ (dP - Σ_j dP ⊙ P),  dq = dS k /√hs,  dk = dSᵀ q/√hs
 * Each product keeps the narrow [T, hs] operand on the right (XNNPACK, without the native kernels,
 * repacks the right operand).
 */
export function causalSelfAttention(qkv: tf.Tensor, bias: tf.Tensor, nHead: number): tf.Tensor {
  return customOp([qkv], ([qkvIn]) => {
    const [q, k, v] = splitHeads(qkvIn, nHead);
    const hs = q.shape[2];
    const qScaled: tf.Tensor3D = tf.mul(q, 1 / Math.sqrt(hs));
    const probs = attentionProbs(qScaled, k, bias, nHead);
    return {
      saved: [qScaled, k, v, probs],
      value: mergeHeads(tf.matMul(probs, v), nHead),
      gradFunc: (dy, saved) => {
        const [qs, ks, vs, p] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
        const [batch, time, d] = dy.shape as [number, number, number];
        const dO = tf
          .transpose(dy.reshape([batch, time, nHead, hs]), [2, 0, 1, 3])
          .reshape<tf.Tensor3D>([nHead * batch, time, hs]); // [nh*B, T, hs]
        const dv = tf.matMul(p, dO, true, false); // [nh*B, T, hs]
        const dP = tf.matMul(dO, vs, false, true); // [nh*B, T, T]
        const dS = tf.mul(p, tf.sub(dP, tf.sum(tf.mul(dP, p), -1, true))); // [nh*B, T, T]
        const dq = tf.mul(tf.matMul(dS, ks), 1 / Math.sqrt(hs)); // [nh*B, T, hs]
        const dk = tf.matMul(dS, qs, true, false); // [nh*B, T, hs]
        const stacked = tf.concat([dq, dk, dv], 0).reshape([3 * nHead, batch, time, hs]); // [3nh, B, T, hs]
        const dqkv = tf.transpose(stacked, [1, 2, 0, 3]).reshape([batch, time, 3 * d]); // [B, T, 3d]
        return [dqkv];
      },
    };
  });
}

/**
 * Keys and values of earlier positions for one layer, k and v [nh*B, Tpast, hs] (appending a position
 * is a concat along axis 1, which is cheap; along the last axis it is ten times slower on wasm).
 */
export type LayerKV = {
  k: tf.Tensor3D;
  v: tf.Tensor3D;
};

/**
 * Self-attention for inference with a key/value cache: qkv [B, Tnew, 3d] of the new positions, `past`
 * the cached keys/values, `bias` [B|1, Tnew, Tpast + Tnew]. Returns the output [B, Tnew, d] and the
 * extended cache. Same arithmetic as causalSelfAttention; no gradient.
 */
export function cachedSelfAttention(
  qkv: tf.Tensor,
  bias: tf.Tensor,
  nHead: number,
  past?: LayerKV,
): { y: tf.Tensor3D; kv: LayerKV } {
  return tf.tidy(() => {
    const [q, k, v] = splitHeads(qkv, nHead);
    const hs = q.shape[2];
    const kAll = past ? (tf.concat([past.k, k], 1) as tf.Tensor3D) : k; // [nh*B, Tk, hs]
    const vAll = past ? (tf.concat([past.v, v], 1) as tf.Tensor3D) : v; // [nh*B, Tk, hs]
    const probs = attentionProbs(tf.mul(q, 1 / Math.sqrt(hs)) as tf.Tensor3D, kAll, bias, nHead);
    return { y: mergeHeads(tf.matMul(probs, vAll), nHead), kv: { k: kAll, v: vAll } };
  });
}

/**
 * Additive attention bias [B or 1, Tq, Tk] for queries at positions past..past+Tq-1 over keys 0..Tk-1
 * (Tk = past + Tq): 0 where the key is not in the future and is a real token, MASKED_BIAS elsewhere.
 * `keyMask` [B, Tk] has 1 for real tokens, 0 for padding (left or right). A query may always attend to
 * itself, so a padding query (whose keys are all masked) gets a defined, finite output.
 */
export function attentionBias(keyMask: tf.Tensor | undefined, queryLength: number, past = 0): tf.Tensor3D {
  return tf.tidy(() => {
    const tk = past + queryLength;
    const causal = new Float32Array(queryLength * tk);
    const diagonal = new Float32Array(queryLength * tk);
    for (let i = 0; i < queryLength; i++) {
      for (let j = 0; j <= past + i; j++) causal[i * tk + j] = 1;
      diagonal[i * tk + past + i] = 1;
    }
    if (!keyMask) {
      const bias = causal.map((allowed) => (allowed ? 0 : MASKED_BIAS));
      return tf.tensor3d(bias, [1, queryLength, tk]);
    }
    const batch = keyMask.shape[0] as number;
    const keys = tf.cast(keyMask, "float32").reshape([batch, 1, tk]);
    const allowed = tf.mul(
      tf.maximum(keys, tf.tensor3d(diagonal, [1, queryLength, tk])),
      tf.tensor3d(causal, [1, queryLength, tk]),
    );
    return tf.mul(tf.sub(allowed, 1), -MASKED_BIAS) as tf.Tensor3D; // [B, Tq, Tk]
  });
}

/**
 * log p(target) under softmax(logits): logits [..., V], targets int32 [...] -> [...].
 * No tf.gather (no gradient on wasm) and no logSoftmax (slow on wasm): with p = softmax(z),
 * log Σ exp z = max z - log max p, and z_target is picked with a one-hot mask.
 * Backward: dz = dy (onehot(target) - p).
 */
export function logProbsOf(logits: tf.Tensor, targets: tf.Tensor): tf.Tensor {
  const vocab = lastDim(logits);
  return customOp([logits], ([zIn]) => {
    const z = as2d(zIn);
    const p = tf.softmax(z);
    const logSumExp = tf.sub(tf.max(z, -1), tf.log(tf.max(p, -1))); // [N]
    const oneHot = tf.oneHot(targets.reshape([targets.size]).toInt(), vocab);
    const picked = tf.sum(tf.mul(z, oneHot), -1); // [N]
    return {
      saved: [p, oneHot],
      value: tf.sub(picked, logSumExp).reshape(targets.shape),
      gradFunc: (dy, saved) => {
        const [probs, hot] = saved as [tf.Tensor2D, tf.Tensor2D];
        const dz = tf.mul(dy.reshape([dy.size, 1]), tf.sub(hot, probs));
        return [dz.reshape(zIn.shape)];
      },
    };
  });
}

/** Rows of the LM head's [rows, V] products per chunk in lmHeadLogProbs (GPT-2: 256 x 50,257 = 51 MB). */
const LM_HEAD_CHUNK_ROWS = 256;

/**
 * log p(target) of the tied LM head, fused: x [..., d], table [V, d] (its transpose tableT [d, V], cached by
 * the caller) and targets int32 [...] -> [...]; the same value as logProbsOf(tiedLinear(x, table), targets).
 *
 * Why fused: unfused, the backward pass keeps three [N, V] tensors alive (the logits, softmax's p and the
 * one-hot of the targets; 206 MB each for GPT-2 small at 8 x 128 tokens) from the forward pass to the
 * end of the backward pass. Here only the logits are kept, in row chunks, and the backward pass builds p
 * and dz = dy (onehot - p) one chunk at a time. No product is recomputed.
 * Backward per chunk c: dx_c = dz_c table, dtable += dz_cᵀ x_c.
 */
export function lmHeadLogProbs(
  x: tf.Tensor,
  table: tf.Tensor2D,
  targets: tf.Tensor,
  tableT?: tf.Tensor2D,
): tf.Tensor {
  const vocab = table.shape[0];
  const outShape = targets.shape;
  const frozen = isFrozen(table);
  const run = ([xIn, tableIn]: tf.Tensor[]) => {
    const x2 = as2d(xIn as tf.Tensor); // [N, d]
    const rows = x2.shape[0];
    const tbl = (tableIn ?? table) as tf.Tensor2D;
    const t = tableT ?? tf.transpose(tbl); // [d, V]
    const ids = tf.cast(targets, "int32").reshape([rows]);
    const chunks: { start: number; size: number }[] = [];
    for (let start = 0; start < rows; start += LM_HEAD_CHUNK_ROWS) {
      chunks.push({ start, size: Math.min(LM_HEAD_CHUNK_ROWS, rows - start) });
    }
    const logits = chunks.map(({ start, size }) => tf.matMul(tf.slice(x2, [start, 0], [size, -1]), t)); // [n, V]
    const logp = tf.concat(
      chunks.map(({ start, size }, c) =>
        tf.tidy(() => {
          const z = logits[c] as tf.Tensor2D;
          const logSumExp = tf.sub(tf.max(z, -1), tf.log(tf.max(tf.softmax(z), -1))); // [n]
          const at = tf.stack([tf.range(0, size, 1, "int32"), tf.slice(ids, [start], [size])], 1);
          return tf.sub(tf.gatherND(z, at), logSumExp); // [n]
        }),
      ),
    );
    return {
      saved: [x2, ids, ...logits],
      value: logp.reshape(outShape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, idsSaved, ...z] = saved as [tf.Tensor2D, tf.Tensor1D, ...tf.Tensor2D[]];
        const dyFlat = dy.reshape([rows, 1]);
        const dxParts: tf.Tensor[] = [];
        let dTable: tf.Tensor | undefined;
        chunks.forEach(({ start, size }, c) => {
          // One chunk's [n, V] temporaries are freed before the next chunk makes its own.
          const [dxPart, dTableNext] = tf.tidy(() => {
            const hot = tf.oneHot(tf.slice(idsSaved, [start], [size]), vocab);
            const p = tf.softmax(z[c] as tf.Tensor2D);
            const dz = tf.mul(tf.slice(dyFlat, [start, 0], [size, 1]), tf.sub(hot, p)); // [n, V]
            if (frozen) return [tf.matMul(dz, tbl)]; // [n, d]
            const part = tf.matMul(dz, tf.slice(xs, [start, 0], [size, -1]), true, false); // dz_cᵀ x_c [V, d]
            return [tf.matMul(dz, tbl), dTable ? tf.add(dTable, part) : part];
          });
          dxParts.push(dxPart as tf.Tensor);
          if (dTableNext) {
            dTable?.dispose();
            dTable = dTableNext;
          }
        });
        const dx = tf.concat(dxParts).reshape((xIn as tf.Tensor).shape);
        return frozen ? [dx] : [dx, dTable as tf.Tensor];
      },
    };
  };
  return frozen ? customOp([x], (inputs) => run(inputs)) : customOp([x, table], (inputs) => run(inputs));
}

/**
 * Entropy of softmax(logits) over the last axis: logits [..., V] -> [...].
 * H = log Σ exp z - Σ p z; backward dz = -dy p (z - Σ p z).
 */
export function entropyFromLogits(logits: tf.Tensor): tf.Tensor {
  return customOp([logits], ([zIn]) => {
    const z = as2d(zIn);
    const p = tf.softmax(z);
    const meanZ = tf.sum(tf.mul(p, z), -1, true); // [N, 1]
    const logSumExp = tf.sub(tf.max(z, -1, true), tf.log(tf.max(p, -1, true))); // [N, 1]
    return {
      saved: [p, z, meanZ],
      value: tf.sub(logSumExp, meanZ).reshape(zIn.shape.slice(0, -1)),
      gradFunc: (dy, saved) => {
        const [probs, zs, mz] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        const centred = tf.sub(zs, mz);
        const dz = tf.mul(tf.mul(dy.reshape([dy.size, 1]), probs), tf.neg(centred));
        return [dz.reshape(zIn.shape)];
      },
    };
  });
}

/**
 * Mean next-token cross-entropy over the positions where mask = 1 (all positions without a mask):
 * logits [B, T, V], targets int32 [B, T], mask [B, T] -> scalar.
 */
export function maskedCrossEntropy(logits: tf.Tensor, targets: tf.Tensor, mask?: tf.Tensor): tf.Scalar {
  return tf.tidy((): tf.Scalar => {
    const logp = logProbsOf(logits, targets);
    if (!mask) return tf.neg(tf.mean(logp)) as tf.Scalar;
    const m = tf.cast(mask, "float32");
    return tf.div(tf.neg(tf.sum(tf.mul(logp, m))), tf.maximum(tf.sum(m), 1)) as tf.Scalar;
  });
}

/**
 * The entry of x [B, T] at each row's last real token (mask [B, T], 1 = real; left or right padding),
 * -> [B]. Differentiable in x (a one-hot product, not tf.gather): the reward model's score of a sequence.
 */
export function lastTokenValues(x: tf.Tensor, mask?: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const [batch, time] = x.shape as [number, number];
    if (!mask) return tf.slice(x, [0, time - 1], [batch, 1]).reshape<tf.Tensor1D>([batch]);
    const positions = tf.range(1, time + 1, 1, "int32"); // 1..T, so an all-padding row picks index 0
    const last = tf.sub(tf.max(tf.mul(tf.cast(mask, "int32"), positions), 1), 1); // [B]
    const picked = tf.mul(x, tf.oneHot(tf.cast(tf.maximum(last, 0), "int32"), time)); // [B, T]
    return tf.sum(picked, 1) as tf.Tensor1D;
  });
}
