import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { mulberry32 } from "../src/model";
import {
  aggregateLoss,
  clippedSurrogate,
  clipRatioMetrics,
  completionMetrics,
  groupAdvantages,
  k3Kl,
  maskTruncated,
  reinforcePlusPlusBaselineAdvantages,
  rlooAdvantages,
  rlooSequenceLoss,
  sequenceKl,
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
