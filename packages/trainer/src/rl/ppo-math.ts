/**
 * The arithmetic of PPO for language models, as plain functions over row-major [B, T] arrays with a
 * mask (1 = a real response token). Each is tested against a plain loop. The trainer (trainers/ppo.ts)
 * uses them between tensor passes; none needs a gradient.
 */

export type Rows = Float32Array | number[];

/** Σ x·m / Σ m (0 when the mask is empty). */
export function maskedMean(x: Rows, mask: Rows): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < x.length; i++) {
    sum += x[i]! * mask[i]!;
    count += mask[i]!;
  }
  return count > 0 ? sum / count : 0;
}

/** Unbiased masked variance (Bessel-corrected, as TRL's masked_var). */
export function maskedVar(x: Rows, mask: Rows): number {
  const mean = maskedMean(x, mask);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < x.length; i++) {
    sum += (x[i]! - mean) ** 2 * mask[i]!;
    count += mask[i]!;
  }
  if (count <= 1) return 0;
  return (sum / count) * (count / (count - 1));
}

/**
 * Whiten x over the masked entries: (x − mean)/√(var + 1e-8), adding the mean back when `shiftMean` is
 * false (the reward whitening of the N implementation details keeps the mean). Unmasked entries become 0.
 */
export function maskedWhiten(x: Rows, mask: Rows, shiftMean = true): Float32Array {
  const mean = maskedMean(x, mask);
  const std = Math.sqrt(maskedVar(x, mask) + 1e-8);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    if (!mask[i]) continue;
    const w = (x[i]! - mean) / std;
    out[i] = shiftMean ? w : w + mean;
  }
  return out;
}

/**
 * Per-token KL estimators of KL(π‖π_ref) from log-probs of the sampled tokens (Schulman, "Approximating
 * KL divergence"): k1 = log π − log π_ref (unbiased, can be negative); k3 = (r − 1) − log r with
 * r = π_ref/π (unbiased and never negative).
 */
export function klPerToken(logp: Rows, refLogp: Rows, estimator: "k1" | "k3"): Float32Array {
  const out = new Float32Array(logp.length);
  for (let i = 0; i < logp.length; i++) {
    const logRatio = refLogp[i]! - logp[i]!; // log r
    out[i] = estimator === "k1" ? -logRatio : Math.expm1(logRatio) - logRatio;
  }
  return out;
}

/**
 * Generalised advantage estimation (Schulman et al. 2016) over each row's response tokens, as the reversed
 * loop CleanRL writes: δ_t = r_t + γ V_{t+1} − V_t, A_t = δ_t + γλ A_{t+1}. Positions past a row's last real
 * token (mask 0) have no value and no reward: the episode ends at the last real token. Returns the
 * advantages and the returns A + V (the value targets).
 */
export function computeGae(
  rewards: Rows,
  values: Rows,
  mask: Rows,
  batch: number,
  length: number,
  gamma: number,
  lam: number,
): { advantages: Float32Array; returns: Float32Array } {
  const advantages = new Float32Array(batch * length);
  const returns = new Float32Array(batch * length);
  for (let b = 0; b < batch; b++) {
    let lastGae = 0;
    for (let t = length - 1; t >= 0; t--) {
      const i = b * length + t;
      if (!mask[i]) {
        lastGae = 0;
        continue;
      }
      const nextValue = t + 1 < length && mask[i + 1] ? values[i + 1]! : 0;
      const delta = rewards[i]! + gamma * nextValue - values[i]!;
      lastGae = delta + gamma * lam * lastGae;
      advantages[i] = lastGae;
      returns[i] = lastGae + values[i]!;
    }
  }
  return { advantages, returns };
}

/**
 * Adaptive KL controller (Ziegler et al. 2019): β ← β·(1 + clip(KL/target − 1, −0.2, 0.2)·n/horizon),
 * with n the episodes in the batch. Fixed when `adaptive` is false.
 */
export class KlController {
  constructor(
    public value: number,
    private readonly adaptive: boolean,
    private readonly target: number,
    private readonly horizon: number,
  ) {}

  update(currentKl: number, episodes: number): void {
    if (!this.adaptive) return;
    const proportionalError = Math.max(-0.2, Math.min(0.2, currentKl / this.target - 1));
    this.value *= 1 + (proportionalError * episodes) / this.horizon;
  }
}

/** Fisher–Yates permutation of 0..n-1 from a PRNG (minibatches are reshuffled every PPO epoch). */
export function permutation(n: number, random: () => number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}
