import { describe, expect, it } from "vitest";
import { mulberry32 } from "../src/model";
import {
  computeGae,
  KlController,
  klPerToken,
  maskedMean,
  maskedVar,
  maskedWhiten,
  permutation,
} from "../src/rl/ppo-math";

const random = mulberry32(11);
const randn = () => (random() - 0.5) * 4;

/** A batch of rows whose real tokens are a prefix of random length (responses truncated after eos). */
function batch(b: number, t: number) {
  const mask = new Float32Array(b * t);
  for (let r = 0; r < b; r++) {
    const len = 1 + Math.floor(random() * t);
    for (let i = 0; i < len; i++) mask[r * t + i] = 1;
  }
  const rewards = Float32Array.from({ length: b * t }, (_, i) => (mask[i] ? randn() : 0));
  const values = Float32Array.from({ length: b * t }, (_, i) => (mask[i] ? randn() : 0));
  return { mask, rewards, values };
}

describe("PPO arithmetic", () => {
  it("computeGae equals the sum of discounted TD errors, A_t = Σ (γλ)^l δ_{t+l}", () => {
    const [B, T, gamma, lam] = [5, 9, 0.97, 0.9];
    const { mask, rewards, values } = batch(B, T);
    const { advantages, returns } = computeGae(rewards, values, mask, B, T, gamma, lam);
    for (let r = 0; r < B; r++) {
      const len = Array.from(mask.slice(r * T, (r + 1) * T)).filter(Boolean).length;
      const V = (t: number) => (t < len ? values[r * T + t]! : 0);
      const delta = (t: number) => rewards[r * T + t]! + gamma * V(t + 1) - V(t);
      for (let t = 0; t < T; t++) {
        let expected = 0;
        if (t < len) for (let l = 0; t + l < len; l++) expected += (gamma * lam) ** l * delta(t + l);
        expect(advantages[r * T + t]).toBeCloseTo(expected, 4);
        expect(returns[r * T + t]).toBeCloseTo(t < len ? expected + V(t) : 0, 4);
      }
    }
  });

  it("with γ = λ = 1 and zero values, the advantage is the reward-to-go", () => {
    const rewards = [0, 0, 1, 0, 2, 3];
    const { advantages } = computeGae(rewards, [0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0], 2, 3, 1, 1);
    expect(Array.from(advantages)).toEqual([1, 1, 1, 2, 2, 0]);
  });

  it("maskedMean, maskedVar and maskedWhiten match two-pass loops over the masked entries", () => {
    const { mask, rewards } = batch(4, 7);
    const xs = Array.from(rewards).filter((_, i) => mask[i]);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
    expect(maskedMean(rewards, mask)).toBeCloseTo(mean, 5);
    expect(maskedVar(rewards, mask)).toBeCloseTo(variance, 4);
    const white = maskedWhiten(rewards, mask);
    const kept = maskedWhiten(rewards, mask, false);
    for (let i = 0; i < rewards.length; i++) {
      const expected = mask[i] ? (rewards[i]! - mean) / Math.sqrt(variance + 1e-8) : 0;
      expect(white[i]).toBeCloseTo(expected, 4);
      expect(kept[i]).toBeCloseTo(mask[i] ? expected + mean : 0, 4);
    }
    expect(maskedMean(white, mask)).toBeCloseTo(0, 5);
    expect(maskedVar(white, mask)).toBeCloseTo(1, 3);
  });

  it("KL estimators: k1 = log π − log π_ref; k3 = (r − 1) − log r ≥ 0", () => {
    const logp = [-1, -2, -0.5, -3];
    const ref = [-1.5, -1, -0.5, -0.1];
    const k1 = klPerToken(logp, ref, "k1");
    const k3 = klPerToken(logp, ref, "k3");
    for (let i = 0; i < logp.length; i++) {
      expect(k1[i]).toBeCloseTo(logp[i]! - ref[i]!, 6);
      const r = Math.exp(ref[i]! - logp[i]!);
      expect(k3[i]).toBeCloseTo(r - 1 - Math.log(r), 5);
      expect(k3[i]).toBeGreaterThanOrEqual(0);
    }
  });

  it("the adaptive KL controller moves β toward the target, by at most 20% of n/horizon", () => {
    const fixed = new KlController(0.05, false, 6, 10_000);
    fixed.update(100, 512);
    expect(fixed.value).toBe(0.05);
    const adaptive = new KlController(0.2, true, 6, 10_000);
    adaptive.update(12, 1000); // error clipped to +0.2
    expect(adaptive.value).toBeCloseTo(0.2 * (1 + (0.2 * 1000) / 10_000), 8);
    adaptive.update(3, 1000); // error −0.5 clipped to −0.2
    expect(adaptive.value).toBeCloseTo(0.2 * 1.02 * (1 - 0.02), 8);
  });

  it("permutation is a permutation", () => {
    const p = permutation(50, mulberry32(3));
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
