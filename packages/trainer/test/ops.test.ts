/**
 * The model's custom-gradient ops against plain JS loops, against tfjs's own autodiff of the plain
 * formula, and against central finite differences (float32: small shapes, loose tolerances).
 * Runs on the wasm backend with its kernel patches, as training does.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import {
  attentionBias,
  causalSelfAttention,
  embedding,
  entropyFromLogits,
  gelu,
  lastTokenValues,
  layerNorm,
  linear,
  logProbsOf,
  MASKED_BIAS,
  maskedCrossEntropy,
  mulberry32,
  normalSamples,
  tiedLinear,
} from "../src/model";

beforeAll(async () => {
  const info = await initBackend("wasm");
  expect(info.name).toBe("wasm");
});

let seedCounter = 1;
function randn(shape: number[], std = 1): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(normalSamples(size, std, mulberry32(seedCounter++)), shape);
}

function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol = 0): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    expect(Number.isFinite(a)).toBe(true);
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (excess > worst) {
      worst = excess;
      at = i;
    }
  }
  if (at >= 0) {
    throw new Error(`index ${at}: got ${actual[at]}, expected ${expected[at]} (atol ${atol}, rtol ${rtol})`);
  }
}

/** Gradients of sum(f(inputs) * weights) for a fixed random `weights`, i.e. with dy = weights. */
function gradsOf(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], dy: tf.Tensor): number[][] {
  return tf.tidy(() => {
    const g = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), dy)));
    return g(inputs).map(values);
  });
}

/** Central finite differences of sum(f(inputs) * dy) w.r.t. a few entries of input `which`. */
function finiteDifferences(
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: tf.Tensor[],
  dy: tf.Tensor,
  which: number,
  entries: number[],
  eps = 1e-2,
): number[] {
  const base = values(inputs[which] as tf.Tensor);
  const shape = (inputs[which] as tf.Tensor).shape;
  const loss = (perturbed: number[]) =>
    tf.tidy(() => {
      const xs = inputs.map((x, i) => (i === which ? tf.tensor(perturbed, shape) : x));
      // float64 accumulation of the float32 outputs
      const out = values(tf.mul(f(...xs), dy));
      return out.reduce((a, b) => a + b, 0);
    });
  return entries.map((k) => {
    const plus = [...base];
    const minus = [...base];
    plus[k] = (plus[k] as number) + eps;
    minus[k] = (minus[k] as number) - eps;
    return (loss(plus) - loss(minus)) / (2 * eps);
  });
}

function pick(all: number[], entries: number[]): number[] {
  return entries.map((k) => all[k] as number);
}

describe("wasm kernel patches", () => {
  it("batched and transposed products match a plain loop", () => {
    const cases: [number[], number[], boolean, boolean][] = [
      [[3, 4, 5, 6], [3, 4, 6, 2], false, false],
      [[3, 4, 6, 5], [3, 4, 6, 2], true, false],
      [[3, 4, 5, 6], [3, 4, 2, 6], false, true],
      [[3, 6, 5], [3, 2, 6], true, true],
      [[5, 6], [6, 3], false, false],
      [[6, 5], [3, 6], true, true],
      [[4, 5, 6], [6, 3], false, false],
      [[5, 6], [4, 6, 3], false, false],
    ];
    for (const [sa, sb, ta, tb] of cases) {
      const a = randn(sa);
      const b = randn(sb);
      const got = tf.tidy(() => values(tf.matMul(a, b, ta, tb)));
      const av = values(a);
      const bv = values(b);
      const [m, k] = ta
        ? [sa.at(-1) as number, sa.at(-2) as number]
        : [sa.at(-2) as number, sa.at(-1) as number];
      const n = tb ? (sb.at(-2) as number) : (sb.at(-1) as number);
      const batchA = av.length / (m * k);
      const batchB = bv.length / (k * n);
      const batch = Math.max(batchA, batchB);
      const expected: number[] = [];
      for (let z = 0; z < batch; z++) {
        const offA = (batchA === 1 ? 0 : z) * m * k;
        const offB = (batchB === 1 ? 0 : z) * k * n;
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let l = 0; l < k; l++) {
              const x = ta ? av[offA + l * m + i] : av[offA + i * k + l];
              const y = tb ? bv[offB + j * k + l] : bv[offB + l * n + j];
              s += (x as number) * (y as number);
            }
            expected.push(s);
          }
        }
      }
      expectClose(got, expected, 1e-4, 1e-4);
      tf.dispose([a, b]);
    }
  });

  it("slices and clones match plain indexing", () => {
    const x = tf.tensor(
      Array.from({ length: 4 * 5 * 6 * 7 }, (_, i) => i),
      [4, 5, 6, 7],
    );
    const cases: [number[], number[]][] = [
      [
        [1, 2, 3, 4],
        [2, 3, 2, 3],
      ],
      [
        [2, 0, 0, 0],
        [1, 5, 6, 7],
      ],
      [
        [0, 1, 0, 0],
        [4, 1, 6, 7],
      ],
      [
        [0, 0, 0, 5],
        [4, 5, 6, 2],
      ],
    ];
    for (const [begin, size] of cases) {
      const got = tf.tidy(() => values(tf.slice(x, begin, size)));
      const expected: number[] = [];
      for (let a = 0; a < (size[0] as number); a++)
        for (let b = 0; b < (size[1] as number); b++)
          for (let c = 0; c < (size[2] as number); c++)
            for (let d = 0; d < (size[3] as number); d++) {
              const [i, j, k, l] = [a + begin[0]!, b + begin[1]!, c + begin[2]!, d + begin[3]!];
              expected.push(((i * 5 + j) * 6 + k) * 7 + l);
            }
      expect(got).toEqual(expected);
    }
    const ints = tf.tensor1d([5, 6, 7, 8], "int32");
    expect(tf.tidy(() => Array.from(tf.slice(ints, [1], [2]).dataSync()))).toEqual([6, 7]);
    const before = tf.memory().numTensors;
    const copy = tf.clone(x);
    x.dispose();
    expect(values(copy)[100]).toBe(100); // the clone outlives its source
    copy.dispose();
    ints.dispose();
    expect(tf.memory().numTensors).toBe(before - 2);
  });
});

describe("linear", () => {
  for (const [nIn, nOut, bias] of [
    [3, 5, true],
    [5, 3, true],
    [4, 4, false],
    [6, 2, false],
  ] as const) {
    it(`gradients match autodiff and finite differences (in ${nIn}, out ${nOut}, bias ${bias})`, () => {
      const x = randn([2, 3, nIn]);
      const w = randn([nIn, nOut]) as tf.Tensor2D;
      const b = randn([nOut]) as tf.Tensor1D;
      const dy = randn([2, 3, nOut]);
      const inputs = bias ? [x, w, b] : [x, w];
      const custom = (...xs: tf.Tensor[]) =>
        linear(xs[0]!, xs[1] as tf.Tensor2D, bias ? (xs[2] as tf.Tensor1D) : undefined);
      const plain = (...xs: tf.Tensor[]) => {
        const y = tf.matMul(xs[0]!.reshape([6, nIn]), xs[1] as tf.Tensor2D).reshape([2, 3, nOut]);
        return bias ? tf.add(y, xs[2]!) : y;
      };
      expectClose(
        tf.tidy(() => values(custom(...inputs))),
        tf.tidy(() => values(plain(...inputs))),
        1e-5,
        1e-5,
      );
      const g = gradsOf(custom, inputs, dy);
      const ref = gradsOf(plain, inputs, dy);
      inputs.forEach((_, i) => {
        expectClose(g[i]!, ref[i]!, 1e-4, 1e-4);
      });
      const entries = [0, 3, 7];
      inputs.forEach((_, i) => {
        const fd = finiteDifferences(
          custom,
          inputs,
          dy,
          i,
          entries.filter((k) => k < inputs[i]!.size),
        );
        expectClose(
          pick(
            g[i]!,
            entries.filter((k) => k < inputs[i]!.size),
          ),
          fd,
          2e-2,
          2e-2,
        );
      });
      tf.dispose([x, w, b, dy]);
    });
  }

  it("tiedLinear (x @ tableᵀ) gradients match autodiff", () => {
    const x = randn([2, 3, 4]);
    const table = randn([7, 4]) as tf.Tensor2D;
    const dy = randn([2, 3, 7]);
    const custom = (a: tf.Tensor, t: tf.Tensor) => tiedLinear(a, t as tf.Tensor2D);
    const plain = (a: tf.Tensor, t: tf.Tensor) =>
      tf.matMul(a.reshape([6, 4]), tf.transpose(t)).reshape([2, 3, 7]);
    expectClose(
      tf.tidy(() => values(custom(x, table))),
      tf.tidy(() => values(plain(x, table))),
      1e-5,
      1e-5,
    );
    const g = gradsOf(custom as (...xs: tf.Tensor[]) => tf.Tensor, [x, table], dy);
    const ref = gradsOf(plain as (...xs: tf.Tensor[]) => tf.Tensor, [x, table], dy);
    expectClose(g[0]!, ref[0]!, 1e-4, 1e-4);
    expectClose(g[1]!, ref[1]!, 1e-4, 1e-4);
    tf.dispose([x, table, dy]);
  });
});

describe("embedding", () => {
  it("looks rows up and scatters gradients back, summing repeated ids", () => {
    const table = randn([6, 3]) as tf.Tensor2D;
    const idList = [
      [1, 4, 1],
      [0, 1, 5],
    ];
    const ids = tf.tensor2d(idList, [2, 3], "int32");
    const dy = randn([2, 3, 3]);
    const rows = values(table);
    const expected = idList.flat().flatMap((id) => rows.slice(id * 3, id * 3 + 3));
    expect(tf.tidy(() => values(embedding(ids, table)))).toEqual(expected);
    const [g] = gradsOf((t) => embedding(ids, t as tf.Tensor2D), [table], dy);
    const dyv = values(dy);
    const ref = new Array<number>(18).fill(0);
    idList.flat().forEach((id, n) => {
      for (let j = 0; j < 3; j++) ref[id * 3 + j] = (ref[id * 3 + j] as number) + (dyv[n * 3 + j] as number);
    });
    expectClose(g!, ref, 1e-6);
    // vs autodiff of the one-hot product formulation
    const [viaOneHot] = gradsOf(
      (t) => tf.matMul(tf.oneHot(ids.reshape([6]), 6), t).reshape([2, 3, 3]),
      [table],
      dy,
    );
    expectClose(g!, viaOneHot!, 1e-5);
    tf.dispose([table, ids, dy]);
  });
});

describe("layerNorm", () => {
  it("matches a plain loop, autodiff and finite differences", () => {
    const x = randn([2, 3, 5], 2);
    const gamma = randn([5]) as tf.Tensor1D;
    const beta = randn([5]) as tf.Tensor1D;
    const dy = randn([2, 3, 5]);
    const eps = 1e-5;
    const xv = values(x);
    const gv = values(gamma);
    const bv = values(beta);
    const expected: number[] = [];
    for (let r = 0; r < 6; r++) {
      const row = xv.slice(r * 5, r * 5 + 5);
      const mean = row.reduce((a, b) => a + b, 0) / 5;
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / 5;
      row.forEach((v, j) => {
        expected.push(((v - mean) / Math.sqrt(variance + eps)) * (gv[j] as number) + (bv[j] as number));
      });
    }
    const custom = (...xs: tf.Tensor[]) => layerNorm(xs[0]!, xs[1] as tf.Tensor1D, xs[2] as tf.Tensor1D, eps);
    expectClose(
      tf.tidy(() => values(custom(x, gamma, beta))),
      expected,
      1e-5,
      1e-5,
    );
    const plain = (...xs: tf.Tensor[]) => {
      const { mean, variance } = tf.moments(xs[0]!, -1, true);
      return tf.add(tf.mul(tf.div(tf.sub(xs[0]!, mean), tf.sqrt(tf.add(variance, eps))), xs[1]!), xs[2]!);
    };
    const g = gradsOf(custom, [x, gamma, beta], dy);
    const ref = gradsOf(plain, [x, gamma, beta], dy);
    for (let i = 0; i < 3; i++) expectClose(g[i]!, ref[i]!, 1e-4, 1e-4);
    const entries = [0, 2, 4];
    const fd = finiteDifferences(custom, [x, gamma, beta], dy, 0, entries, 1e-2);
    expectClose(pick(g[0]!, entries), fd, 2e-2, 2e-2);
    tf.dispose([x, gamma, beta, dy]);
  });
});

describe("gelu", () => {
  it("is GPT-2's tanh GELU, with gradients matching autodiff and finite differences", () => {
    const x = randn([4, 6], 2);
    const dy = randn([4, 6]);
    const expected = values(x).map(
      (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))),
    );
    expectClose(
      tf.tidy(() => values(gelu(x))),
      expected,
      1e-5,
      1e-5,
    );
    const plain = (t: tf.Tensor) =>
      tf.mul(
        tf.mul(0.5, t),
        tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(t, tf.mul(0.044715, tf.pow(t, 3)))))),
      );
    const [g] = gradsOf(gelu, [x], dy);
    const [ref] = gradsOf(plain, [x], dy);
    expectClose(g!, ref!, 1e-4, 1e-4);
    const entries = [0, 5, 11, 17];
    expectClose(pick(g!, entries), finiteDifferences(gelu, [x], dy, 0, entries, 1e-2), 2e-2, 2e-2);
    tf.dispose([x, dy]);
  });
});

/** Plain-loop attention: qkv [B, T, 3d], keyMask [B, T] (1 real, 0 pad). */
function attentionReference(
  qkv: number[],
  keyMask: number[][],
  batch: number,
  time: number,
  nHead: number,
  d: number,
): number[] {
  const hs = d / nHead;
  const out = new Array<number>(batch * time * d).fill(0);
  const at = (b: number, t: number, part: number, h: number, j: number) =>
    qkv[(b * time + t) * 3 * d + part * d + h * hs + j] as number;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < nHead; h++) {
      for (let i = 0; i < time; i++) {
        const allowed = (j: number) => j <= i && ((keyMask[b] as number[])[j] === 1 || j === i);
        const scores: number[] = [];
        for (let j = 0; j < time; j++) {
          let s = 0;
          for (let c = 0; c < hs; c++) s += at(b, i, 0, h, c) * at(b, j, 1, h, c);
          scores.push(allowed(j) ? s / Math.sqrt(hs) : -Infinity);
        }
        const max = Math.max(...scores);
        const e = scores.map((s) => (s === -Infinity ? 0 : Math.exp(s - max)));
        const sum = e.reduce((a, c) => a + c, 0);
        for (let c = 0; c < hs; c++) {
          let v = 0;
          for (let j = 0; j < time; j++) v += ((e[j] as number) / sum) * at(b, j, 2, h, c);
          out[(b * time + i) * d + h * hs + c] = v;
        }
      }
    }
  }
  return out;
}

describe("attention", () => {
  const batch = 3;
  const time = 5;
  const nHead = 2;
  const d = 4;
  // row 0 full, row 1 left-padded by two, row 2 entirely padding (every query sees only itself)
  const keyMask = [
    [1, 1, 1, 1, 1],
    [0, 0, 1, 1, 1],
    [0, 0, 0, 0, 0],
  ];

  it("builds the causal + padding bias", () => {
    const bias = tf.tidy(() => values(attentionBias(tf.tensor2d(keyMask, [3, 5], "int32"), time)));
    const at = (b: number, i: number, j: number) => bias[(b * time + i) * time + j];
    expect(at(0, 2, 3)).toBe(MASKED_BIAS); // future
    expect(at(0, 2, 1)).toBe(0);
    expect(at(1, 3, 1)).toBe(MASKED_BIAS); // padding key
    expect(at(1, 3, 2)).toBe(0);
    expect(at(1, 1, 1)).toBe(0); // a padding query sees itself
    const cached = tf.tidy(() => values(attentionBias(undefined, 2, 3))); // queries at positions 3, 4
    expect(cached).toEqual([0, 0, 0, 0, MASKED_BIAS, 0, 0, 0, 0, 0]);
  });

  it("matches a plain loop with causal + padding masks, without NaN", () => {
    const qkv = randn([batch, time, 3 * d]);
    const got = tf.tidy(() =>
      values(causalSelfAttention(qkv, attentionBias(tf.tensor2d(keyMask, [3, 5], "int32"), time), nHead)),
    );
    expectClose(got, attentionReference(values(qkv), keyMask, batch, time, nHead, d), 1e-5, 1e-5);
    qkv.dispose();
  });

  it("gradients match autodiff of the plain formula and finite differences", () => {
    const qkv = randn([batch, time, 3 * d]);
    const dy = randn([batch, time, d]);
    const mask = tf.tensor2d(keyMask, [3, 5], "int32");
    const bias = attentionBias(mask, time);
    const custom = (x: tf.Tensor) => causalSelfAttention(x, bias, nHead);
    const plain = (x: tf.Tensor) => {
      const hs = d / nHead;
      const heads = (part: number) =>
        tf.transpose(
          tf.slice(x, [0, 0, part * d], [batch, time, d]).reshape([batch, time, nHead, hs]),
          [0, 2, 1, 3],
        ); // [B, nh, T, hs]
      const scores = tf.add(
        tf.div(tf.matMul(heads(0), heads(1), false, true), Math.sqrt(hs)),
        bias.reshape([batch, 1, time, time]),
      );
      const o = tf.matMul(tf.softmax(scores), heads(2)); // [B, nh, T, hs]
      return tf.transpose(o, [0, 2, 1, 3]).reshape([batch, time, d]);
    };
    expectClose(
      tf.tidy(() => values(custom(qkv))),
      tf.tidy(() => values(plain(qkv))),
      1e-5,
      1e-5,
    );
    const [g] = gradsOf(custom, [qkv], dy);
    const [ref] = gradsOf(plain, [qkv], dy);
    expectClose(g!, ref!, 1e-4, 1e-4);
    const entries = [0, 5, 13, 30, 47, 70, 100, 150];
    expectClose(pick(g!, entries), finiteDifferences(custom, [qkv], dy, 0, entries, 1e-2), 2e-2, 2e-2);
    tf.dispose([qkv, dy, mask, bias]);
  });
});

/** Plain-loop log-softmax over the last axis of a [N, V] array. */
function logSoftmaxRows(z: number[], vocab: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < z.length / vocab; r++) {
    const row = z.slice(r * vocab, (r + 1) * vocab);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
    out.push(...row.map((v) => v - lse));
  }
  return out;
}

describe("log-probabilities, entropy, cross-entropy", () => {
  const vocab = 7;
  const targetList = [
    [1, 6, 0],
    [3, 3, 2],
  ];

  it("logProbsOf matches a plain loop, autodiff and finite differences", () => {
    const logits = randn([2, 3, vocab], 3);
    const targets = tf.tensor2d(targetList, [2, 3], "int32");
    const dy = randn([2, 3]);
    const lsm = logSoftmaxRows(values(logits), vocab);
    const expected = targetList.flat().map((t, n) => lsm[n * vocab + t] as number);
    const custom = (z: tf.Tensor) => logProbsOf(z, targets);
    expectClose(
      tf.tidy(() => values(custom(logits))),
      expected,
      1e-5,
      1e-5,
    );
    const plain = (z: tf.Tensor) => tf.sum(tf.mul(tf.logSoftmax(z), tf.oneHot(targets, vocab)), -1);
    const [g] = gradsOf(custom, [logits], dy);
    const [ref] = gradsOf(plain, [logits], dy);
    expectClose(g!, ref!, 1e-5, 1e-4);
    const entries = [0, 1, 8, 20, 41];
    expectClose(pick(g!, entries), finiteDifferences(custom, [logits], dy, 0, entries, 1e-2), 1e-2, 1e-2);
    // large logits: log-probabilities far below float32's exp range stay finite and exact
    const extreme = tf.tensor2d([[0, 200, -300]]);
    expectClose(
      tf.tidy(() => values(logProbsOf(extreme, tf.tensor1d([2], "int32")))),
      [-500],
      1e-3,
    );
    tf.dispose([logits, targets, dy, extreme]);
  });

  it("entropyFromLogits matches a plain loop and autodiff", () => {
    const logits = randn([2, 3, vocab], 2);
    const dy = randn([2, 3]);
    const lsm = logSoftmaxRows(values(logits), vocab);
    const expected: number[] = [];
    for (let n = 0; n < 6; n++) {
      let h = 0;
      for (let j = 0; j < vocab; j++)
        h -= Math.exp(lsm[n * vocab + j] as number) * (lsm[n * vocab + j] as number);
      expected.push(h);
    }
    expectClose(
      tf.tidy(() => values(entropyFromLogits(logits))),
      expected,
      1e-5,
      1e-5,
    );
    const plain = (z: tf.Tensor) => {
      const logp = tf.logSoftmax(z);
      return tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1));
    };
    const [g] = gradsOf(entropyFromLogits, [logits], dy);
    const [ref] = gradsOf(plain, [logits], dy);
    expectClose(g!, ref!, 1e-5, 1e-4);
    tf.dispose([logits, dy]);
  });

  it("lastTokenValues picks each row's last real token, with a gradient", () => {
    const x = tf.tensor2d([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
      [9, 10, 11, 12],
    ]);
    const mask = tf.tensor2d(
      [
        [1, 1, 0, 0], // right padding
        [0, 0, 1, 1], // left padding
        [1, 1, 1, 1],
      ],
      [3, 4],
      "int32",
    );
    expect(tf.tidy(() => values(lastTokenValues(x, mask)))).toEqual([2, 8, 12]);
    expect(tf.tidy(() => values(lastTokenValues(x)))).toEqual([4, 8, 12]);
    const [g] = gradsOf((t) => lastTokenValues(t, mask), [x], tf.tensor1d([1, 2, 3]));
    expect(g).toEqual([0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 3]);
    tf.dispose([x, mask]);
  });

  it("maskedCrossEntropy matches a plain loop", () => {
    const logits = randn([2, 3, vocab], 2);
    const targets = tf.tensor2d(targetList, [2, 3], "int32");
    const maskList = [
      [1, 1, 0],
      [0, 1, 1],
    ];
    const mask = tf.tensor2d(maskList, [2, 3]);
    const lsm = logSoftmaxRows(values(logits), vocab);
    let sum = 0;
    let count = 0;
    targetList.flat().forEach((t, n) => {
      if (maskList.flat()[n] === 1) {
        sum -= lsm[n * vocab + t] as number;
        count += 1;
      }
    });
    expectClose(
      tf.tidy(() => values(maskedCrossEntropy(logits, targets, mask))),
      [sum / count],
      1e-5,
      1e-5,
    );
    const all = targetList.flat().reduce((a, t, n) => a - (lsm[n * vocab + t] as number), 0) / 6;
    expectClose(
      tf.tidy(() => values(maskedCrossEntropy(logits, targets))),
      [all],
      1e-5,
      1e-5,
    );
    tf.dispose([logits, targets, mask]);
  });
});
