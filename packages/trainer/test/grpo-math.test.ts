import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { mulberry32 } from "../src/model";
import { grpoLossTerms } from "../src/parallel/losses-rl";
import {
  aggregateLoss,
  clippedSurrogate,
  clipRatioMetrics,
  completionMetrics,
  groupAdvantages,
  importanceWeights,
  k3Kl,
  logImportanceWeights,
  maskTruncated,
  reinforcePlusPlusBaselineAdvantages,
  rlooAdvantages,
  rlooSequenceLoss,
  sequenceKl,
  sequenceLogRatio,
} from "../src/rl/grpo-math";

const close = (actual: ArrayLike<number>, expected: number[], digits = 5) => {
  expect(actual.length).toBe(expected.length);
  for (const [i, e] of expected.entries()) expect(actual[i], `index ${i}`).toBeCloseTo(e, digits);
};

describe("GRPO advantages (TRL scale_rewards)", () => {
  // Two prompts, G = 3: the first group's rewards differ, the second's are all equal.
  const rewards = [1, 2, 3, 0, 0, 0];

  it("group: reward − group mean, over the group's std + 1e-4; equal rewards give 0 and count as zero std", () => {
    const { advantages, std, fracZeroStd } = groupAdvantages(rewards, 3, "group");
    // Group 1: mean 2, Bessel std √((1 + 0 + 1)/2) = 1.
    close(advantages, [-1 / 1.0001, 0, 1 / 1.0001, 0, 0, 0]);
    close(std, [1, 1, 1, 0, 0, 0]);
    expect(fracZeroStd).toBe(0.5);
  });

  it("batch: still the group mean as baseline, but the batch's std", () => {
    const { advantages, fracZeroStd } = groupAdvantages(rewards, 3, "batch");
    // Batch mean 1; squared deviations 0 + 1 + 4 + 1 + 1 + 1 = 8; std = √(8/5).
    const s = Math.sqrt(8 / 5) + 1e-4;
    close(advantages, [-1 / s, 0, 1 / s, 0, 0, 0]);
    expect(fracZeroStd).toBe(0);
  });

  it("none: centred only (Dr. GRPO)", () => {
    const { advantages, fracZeroStd } = groupAdvantages(rewards, 3, "none");
    close(advantages, [-1, 0, 1, 0, 0, 0]);
    expect(fracZeroStd).toBe(0.5);
  });

  it("equals a plain per-group loop on random rewards", () => {
    const random = mulberry32(3);
    const G = 4;
    const r = Array.from({ length: 5 * G }, () => random() * 10 - 5);
    const { advantages } = groupAdvantages(r, G, "group");
    for (let g = 0; g < 5; g++) {
      const group = r.slice(g * G, (g + 1) * G);
      const mean = group.reduce((a, b) => a + b, 0) / G;
      const std = Math.sqrt(group.reduce((a, b) => a + (b - mean) ** 2, 0) / (G - 1));
      for (let i = 0; i < G; i++)
        expect(advantages[g * G + i]).toBeCloseTo((group[i]! - mean) / (std + 1e-4), 4);
    }
  });

  it("refuses a batch that does not split into groups", () => {
    expect(() => groupAdvantages([1, 2, 3], 2, "group")).toThrow(/3 rewards do not split into groups of 2/);
  });
});

describe("RLOO and REINFORCE++ baselines", () => {
  it("leave-one-out: each completion against the mean of the other k − 1", () => {
    // Group [1, 2, 3] (sum 6): baselines 2.5, 2, 1.5. Group [4, 0, 2] (sum 6): baselines 1, 3, 2.
    close(rlooAdvantages([1, 2, 3, 4, 0, 2], 3), [-1.5, 0, 1.5, 3, -3, 0]);
  });

  it("equals a plain loop that averages the others, and whitens on request", () => {
    const random = mulberry32(7);
    const k = 4;
    const r = Array.from({ length: 6 * k }, () => random() * 4 - 2);
    const expected: number[] = [];
    for (let i = 0; i < r.length; i++) {
      const start = Math.floor(i / k) * k;
      let others = 0;
      for (let j = start; j < start + k; j++) if (j !== i) others += r[j]!;
      expected.push(r[i]! - others / (k - 1));
    }
    close(rlooAdvantages(r, k), expected, 4);
    const mean = expected.reduce((a, b) => a + b, 0) / expected.length;
    const std = Math.sqrt(expected.reduce((a, b) => a + (b - mean) ** 2, 0) / (expected.length - 1));
    close(
      rlooAdvantages(r, k, true),
      expected.map((a) => (a - mean) / (std + 1e-4)),
      4,
    );
  });

  it("REINFORCE++-baseline: group mean removed, then whitened over the batch (optionally token-weighted)", () => {
    // Centred: [-1, 0, 1, 2, -2, 0]; mean 0, Bessel std √(10/5).
    const s = Math.sqrt(2) + 1e-4;
    close(reinforcePlusPlusBaselineAdvantages([1, 2, 3, 4, 0, 2], 3), [-1 / s, 0, 1 / s, 2 / s, -2 / s, 0]);
    // Weighted by tokens [1, 1, 1, 1, 1, 3]: mean 0, Σ w·x² = 10 over 8 − 1.
    const w = Math.sqrt(10 / 7) + 1e-4;
    close(reinforcePlusPlusBaselineAdvantages([1, 2, 3, 4, 0, 2], 3, [1, 1, 1, 1, 1, 3]), [
      -1 / w,
      0,
      1 / w,
      2 / w,
      -2 / w,
      0,
    ]);
  });

  it("RLOO's sequence KL sums log π − log π_ref over the completion's tokens", () => {
    const logp = [-1, -2, -3, -0.5, -0.5, -0.5];
    const ref = [-1.5, -1, -3, -1, -1, -1];
    close(sequenceKl(logp, ref, [1, 1, 0, 1, 1, 1], 2, 3), [0.5 - 1, 1.5]);
  });
});

describe("clip-ratio and completion metrics (TRL names)", () => {
  it("count low clips only where A < 0 and high clips only where A > 0, over masked tokens", () => {
    const ratio = [0.7, 1.0, 1.5, 1.3, 0.5, 1.29];
    const metrics = clipRatioMetrics(ratio, [-1, 2], [1, 1, 1, 1, 1, 0], 2, 3, 0.2, 0.28);
    // Row 0 (A < 0): 0.7 < 0.8 is low-clipped; 1.5 is above 1.28 but A < 0, so not clipped.
    // Row 1 (A > 0): 1.3 > 1.28 is high-clipped; 0.5 is below 0.8 but A > 0; 1.29 is masked out.
    expect(metrics).toEqual({
      "clip_ratio/low_mean": 1 / 5,
      "clip_ratio/low_min": 0,
      "clip_ratio/high_mean": 1 / 5,
      "clip_ratio/high_max": 1 / 2,
      "clip_ratio/region_mean": 2 / 5,
    });
  });

  it("skip completions without tokens in low_min / high_max (nanmin)", () => {
    const metrics = clipRatioMetrics([0.5, 0.5, 0.1, 0.1], [-1, -1], [1, 1, 0, 0], 2, 2, 0.2, 0.2);
    expect(metrics["clip_ratio/low_min"]).toBe(1);
    expect(metrics["clip_ratio/low_mean"]).toBe(1);
  });

  it("completion lengths, terminated lengths and the clipped ratio", () => {
    expect(completionMetrics([3, 5, 8, 8], [true, true, false, false])).toEqual({
      "completions/mean_length": 6,
      "completions/min_length": 3,
      "completions/max_length": 8,
      "completions/mean_terminated_length": 4,
      "completions/min_terminated_length": 3,
      "completions/max_terminated_length": 5,
      "completions/clipped_ratio": 0.5,
    });
    expect(completionMetrics([8, 8], [false, false])["completions/mean_terminated_length"]).toBe(0);
  });

  it("masks truncated completions out of the loss", () => {
    expect(Array.from(maskTruncated([1, 1, 0, 1, 1, 1], [true, false], 3))).toEqual([1, 1, 0, 0, 0, 0]);
  });
});

describe("GRPO loss (tfjs)", () => {
  // ratios r = exp(logp − oldLogp) by construction; A = −1 for row 0, +2 for row 1; ε_low 0.2, ε_high 0.28.
  const ratios = [
    [0.7, 1.0, 1.5],
    [1.3, 0.5, 1.29],
  ];
  const mask = [
    [1, 1, 1],
    [1, 1, 0],
  ];
  // −min(r·A, clip(r)·A) per token, by hand.
  const expectedLoss = [
    [0.8, 1, 1.5],
    [-2.56, -1, -2.56],
  ];

  it("the clipped surrogate per token, and zero gradient exactly where the clip binds", () => {
    const logp = tf.tensor2d(ratios.map((row) => row.map(Math.log)));
    const old = tf.zeros([2, 3]) as tf.Tensor2D;
    const advantages = tf.tensor1d([-1, 2]);
    const loss = clippedSurrogate(logp, old, advantages, 0.2, 0.28);
    close(loss.dataSync(), expectedLoss.flat());
    const grad = tf.grad((x: tf.Tensor) =>
      tf.sum(clippedSurrogate(x as tf.Tensor2D, old, advantages, 0.2, 0.28)),
    )(logp);
    // d(−r·A)/d log π = −A·r where unclipped; 0 where clipped (row 0 token 0, row 1 tokens 0 and 2).
    close(grad.dataSync(), [0, 1, 1.5, 0, -1, 0]);
    tf.dispose([logp, old, advantages, loss, grad]);
  });

  it("aggregates as each TRL loss type normalises it", () => {
    const perToken = tf.tensor2d(expectedLoss);
    const m = tf.tensor2d(mask);
    const n = { maxCompletionLength: 4, accumulationSteps: 2, tokensInGlobalBatch: 13 };
    const value = (type: "grpo" | "bnpo" | "dr_grpo" | "dapo") => {
      const loss = aggregateLoss(perToken, m, type, n);
      const v = loss.dataSync()[0]!;
      loss.dispose();
      return v;
    };
    // Masked sums: row 0 = 3.3 over 3 tokens, row 1 = −3.56 over 2 tokens; total −0.26 over 5.
    expect(value("grpo")).toBeCloseTo((3.3 / 3 + -3.56 / 2) / 2 / 2, 5);
    expect(value("bnpo")).toBeCloseTo(-0.26 / 5 / 2, 5);
    expect(value("dr_grpo")).toBeCloseTo(-0.26 / (2 * 4) / 2, 5);
    expect(value("dapo")).toBeCloseTo(-0.26 / 13, 5);
    tf.dispose([perToken, m]);
  });

  it("k3 KL is (r − 1) − log r with r = π_ref/π: 0 at equality, positive otherwise", () => {
    const logp = tf.tensor2d([[-1, -2]]);
    const ref = tf.tensor2d([[-2, -2]]);
    const kl = k3Kl(logp, ref);
    close(kl.dataSync(), [Math.exp(-1) + 1 - 1, 0]);
    tf.dispose([logp, ref, kl]);
  });

  it("RLOO's sequence-level clipped loss is the mean over completions", () => {
    const seq = tf.tensor1d([Math.log(0.7), Math.log(1.3)]);
    const old = tf.zeros([2]) as tf.Tensor1D;
    const advantages = tf.tensor1d([-1, 2]);
    const loss = rlooSequenceLoss(seq, old, advantages, 0.2, 0.28, 2);
    expect(loss.dataSync()[0]).toBeCloseTo((0.8 - 2.56) / 2 / 2, 5);
    tf.dispose([seq, old, advantages, loss]);
  });

  it("leaves no tensors behind", () => {
    const before = tf.memory().numTensors;
    const logp = tf.tensor2d(ratios.map((row) => row.map(Math.log)));
    const old = tf.zeros([2, 3]) as tf.Tensor2D;
    const advantages = tf.tensor1d([-1, 2]);
    const m = tf.tensor2d(mask);
    const loss = tf.tidy(() =>
      aggregateLoss(clippedSurrogate(logp, old, advantages, 0.2, 0.28), m, "dapo", {
        maxCompletionLength: 3,
        accumulationSteps: 1,
        tokensInGlobalBatch: 5,
      }),
    );
    tf.dispose([logp, old, advantages, m, loss]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("GSPO: importance sampling level (TRL importance_sampling_level)", () => {
  // Three completions of T = 3. Row 0: every token in the loss; row 1: its last token is padding (a large
  // log-ratio there must not count); row 2: truncated and masked, no loss tokens at all.
  const B = 3;
  const T = 3;
  const logRatio = [0.1, -0.3, 0.5, 0.4, 0.2, 3, 0.7, 0.7, 0.7];
  const oldLogp = [-1, -2, -0.5, -1.5, -0.7, -3, -2, -1, -0.2];
  const logp = oldLogp.map((x, i) => x + logRatio[i]!);
  const refLogp = logp.map((x, i) => x - 0.05 * ((i % 4) - 1.5));
  const mask = [1, 1, 1, 1, 1, 0, 0, 0, 0];
  const advantages = [2, -1, 1];
  const epsilonLow = 0.2;
  const epsilonHigh = 0.05;
  const levels = ["token", "sequence", "sequence_token"] as const;
  const lossTypes = ["grpo", "bnpo", "dr_grpo", "dapo"] as const;
  const n = { maxCompletionLength: 4, accumulationSteps: 1, tokensInGlobalBatch: 9 };

  it("the sequence log-ratio is the mean log-ratio over a completion's loss tokens, 0 without any", () => {
    // Row 0: (0.1 − 0.3 + 0.5)/3; row 1: (0.4 + 0.2)/2, the padded 3 left out; row 2: 0/max(0, 1).
    close(sequenceLogRatio(logp, oldLogp, mask, B, T), [0.1, 0.3, 0], 5);
  });

  it("the weights the clip acts on: per token, one per completion, or that value on every token", () => {
    const token = importanceWeights(logp, oldLogp, mask, B, T, "token");
    expect(token.width).toBe(T);
    close(token.weights, logRatio.map(Math.exp), 4);
    const sequence = importanceWeights(logp, oldLogp, mask, B, T, "sequence");
    expect(sequence.width).toBe(1);
    close(sequence.weights, [Math.exp(0.1), Math.exp(0.3), 1]);
    const sequenceToken = importanceWeights(logp, oldLogp, mask, B, T, "sequence_token");
    expect(sequenceToken.width).toBe(T);
    close(
      sequenceToken.weights,
      [0, 0, 0, 1, 1, 1, 2, 2, 2].map((b) => sequence.weights[b]!),
    );
  });

  it("the tfjs log weights equal the plain ones at every level, [B, 1] at the sequence level", () => {
    for (const level of levels) {
      const [lp, olp, m] = [logp, oldLogp, mask].map((x) => tf.tensor2d(x, [B, T]));
      const logWeights = logImportanceWeights(lp as tf.Tensor2D, olp as tf.Tensor2D, m as tf.Tensor2D, level);
      const plain = importanceWeights(logp, oldLogp, mask, B, T, level);
      expect(logWeights.shape, level).toEqual([B, plain.width]);
      close(logWeights.dataSync(), Array.from(plain.weights, Math.log), 5);
      tf.dispose([lp!, olp!, m!, logWeights]);
    }
  });

  /** How much token (b, t) counts in each loss type (∂ loss / ∂ ℓ_{b,t}), by a plain loop. */
  function tokenWeight(lossType: (typeof lossTypes)[number], b: number, t: number): number {
    const m = mask[b * T + t]!;
    const rowTokens = mask.slice(b * T, (b + 1) * T).reduce((a, x) => a + x, 0);
    const tokens = mask.reduce((a, x) => a + x, 0);
    if (lossType === "grpo") return m / (B * Math.max(rowTokens, 1));
    if (lossType === "bnpo") return m / Math.max(tokens, 1);
    if (lossType === "dr_grpo") return m / (B * n.maxCompletionLength);
    return m / n.tokensInGlobalBatch;
  }

  /**
   * The loss by a plain loop in float64, from the log-probs `lp`: w by the level (the sequence level's and
   * GSPO-token's value is the geometric mean of the loss tokens' ratios), −min(w·A, clip(w)·A) + β·k3 on
   * every token, weighted by the loss type.
   */
  function plainLoss(
    lp: number[],
    level: (typeof levels)[number],
    lossType: (typeof lossTypes)[number],
    beta: number,
  ) {
    let loss = 0;
    for (let b = 0; b < B; b++) {
      let sum = 0;
      let tokens = 0;
      for (let t = 0; t < T; t++) {
        sum += mask[b * T + t]! * (lp[b * T + t]! - oldLogp[b * T + t]!);
        tokens += mask[b * T + t]!;
      }
      const logS = sum / Math.max(tokens, 1);
      for (let t = 0; t < T; t++) {
        const i = b * T + t;
        const w = Math.exp(level === "token" ? lp[i]! - oldLogp[i]! : logS);
        const a = advantages[b]!;
        const clipped = Math.min(Math.max(w, 1 - epsilonLow), 1 + epsilonHigh);
        const logQ = refLogp[i]! - lp[i]!;
        const kl = Math.exp(logQ) - logQ - 1;
        loss += tokenWeight(lossType, b, t) * (-Math.min(w * a, clipped * a) + beta * kl);
      }
    }
    return loss;
  }

  /**
   * The gradient by a plain loop, from the definitions: dℓ/dw = −A unless the clip binds (then 0); token:
   * dw/d log π_t = w_t; sequence: every loss token of the completion moves log s by 1/n; sequence_token:
   * d log w_t / d log π_t = 1, nothing through the stop-gradients. Plus β·(1 − q) per token (k3).
   */
  function plainGradient(level: (typeof levels)[number], lossType: (typeof lossTypes)[number], beta: number) {
    const grad = new Array<number>(B * T).fill(0);
    const seq = sequenceLogRatio(logp, oldLogp, mask, B, T);
    for (let b = 0; b < B; b++) {
      const a = advantages[b]!;
      const rowTokens = Math.max(
        mask.slice(b * T, (b + 1) * T).reduce((x, y) => x + y, 0),
        1,
      );
      const rowWeight = [0, 1, 2].reduce((x, t) => x + tokenWeight(lossType, b, t), 0);
      for (let t = 0; t < T; t++) {
        const i = b * T + t;
        const w = Math.exp(level === "token" ? logRatio[i]! : seq[b]!);
        const binds = (w < 1 - epsilonLow && a < 0) || (w > 1 + epsilonHigh && a > 0);
        const dLossDw = binds ? 0 : -a;
        if (level === "sequence") grad[i]! += rowWeight * dLossDw * w * (mask[i]! / rowTokens);
        else grad[i]! += tokenWeight(lossType, b, t) * dLossDw * w;
        grad[i]! += tokenWeight(lossType, b, t) * beta * (1 - Math.exp(refLogp[i]! - logp[i]!));
      }
    }
    return grad;
  }

  /** grpoLossTerms (parallel/losses-rl.ts, what the workers run): its value and its gradient in log π. */
  function tfjsLoss(level: (typeof levels)[number], lossType: (typeof lossTypes)[number], beta: number) {
    const [lp, olp, rlp, m] = [logp, oldLogp, refLogp, mask].map(
      (x) => tf.tensor2d(x, [B, T]) as tf.Tensor2D,
    );
    const adv = tf.tensor1d(advantages);
    const settings = {
      epsilon: epsilonLow,
      epsilonHigh,
      beta,
      lossType,
      maxCompletionLength: n.maxCompletionLength,
      gradAccumSteps: 1,
      importanceSamplingLevel: level,
    };
    const lossOf = (x: tf.Tensor) =>
      grpoLossTerms(
        {
          logprobs: x as tf.Tensor2D,
          oldLogprobs: olp!,
          refLogprobs: rlp,
          advantages: adv,
          mask: m!,
          batchTokens: n.tokensInGlobalBatch,
        },
        settings,
      ).loss;
    const { value, grad } = tf.valueAndGrad(lossOf)(lp!);
    const out = { value: value.dataSync()[0]!, grad: Array.from(grad.dataSync()) };
    tf.dispose([lp!, olp!, rlp!, m!, adv, value, grad]);
    return out;
  }

  it("the plain-loop gradient is the plain-loop loss's central difference (token and sequence levels)", () => {
    for (const level of ["token", "sequence"] as const)
      for (const lossType of lossTypes) {
        const analytic = plainGradient(level, lossType, 0.1);
        for (let i = 0; i < B * T; i++) {
          const h = 1e-6;
          const up = logp.map((x, j) => (j === i ? x + h : x));
          const down = logp.map((x, j) => (j === i ? x - h : x));
          const numeric =
            (plainLoss(up, level, lossType, 0.1) - plainLoss(down, level, lossType, 0.1)) / (2 * h);
          expect(Math.abs(numeric - analytic[i]!), `${level} ${lossType} [${i}]`).toBeLessThan(1e-6);
        }
      }
  });

  it.each(levels)(
    "%s: the tfjs loss and its gradient equal the plain loop for every loss type, with and without β",
    (level) => {
      for (const lossType of lossTypes)
        for (const beta of [0, 0.1]) {
          const label = `${level} ${lossType} β ${beta}`;
          const { value, grad } = tfjsLoss(level, lossType, beta);
          expect(value, label).toBeCloseTo(plainLoss(logp, level, lossType, beta), 5);
          const expected = plainGradient(level, lossType, beta);
          for (let i = 0; i < B * T; i++)
            expect(Math.abs(grad[i]! - expected[i]!), `${label} [${i}]`).toBeLessThan(1e-5);
        }
    },
  );

  it("the levels differ where they should: which tokens the clip silences, and the masked completion's weight", () => {
    const token = tfjsLoss("token", "dapo", 0);
    const sequence = tfjsLoss("sequence", "dapo", 0);
    const sequenceToken = tfjsLoss("sequence_token", "dapo", 0);
    // Row 0 (A = 2): per token, ratios e^0.1 and e^0.5 pass 1 + 0.05 and are clipped, e^−0.3 is not; its
    // sequence ratio e^0.1 is clipped, so the sequence levels give none of its tokens a gradient.
    expect(token.grad.slice(0, 3).map((g) => g === 0)).toEqual([true, false, true]);
    expect(sequence.grad.slice(0, 3).map(Math.abs)).toEqual([0, 0, 0]);
    // GSPO-token: the value and (one advantage per completion) the gradient of GSPO.
    expect(sequenceToken.value).toBeCloseTo(sequence.value, 6);
    close(sequenceToken.grad, sequence.grad, 6);
    // Row 1 (A = −1, not clipped): its loss −A·e^{log s} counts on its 2 loss tokens of the round's 9, and
    // each moves log s by 1/2: (2/9)·e^0.3·(1/2) each; the padding none.
    close(sequence.grad.slice(3, 6), [Math.exp(0.3) / 9, Math.exp(0.3) / 9, 0], 5);
    // The completion without loss tokens: no gradient anywhere.
    expect(sequence.grad.slice(6).map(Math.abs)).toEqual([0, 0, 0]);
  });

  it("leave no tensors behind, stop-gradient included", () => {
    tfjsLoss("sequence_token", "grpo", 0.1);
    const before = tf.memory().numTensors;
    for (const level of levels) tfjsLoss(level, "bnpo", 0.1);
    expect(tf.memory().numTensors).toBe(before);
  });
});
