/**
 * Smoothing of a chart's curve: TensorBoard's debiased exponential moving average.
 *
 * TensorBoard computes, for the i-th finite value y_i (counting only finite values, n of them so far),
 *   last ← last·w + (1 − w)·y_i,   smoothed_i = last / (1 − wⁿ)
 * — the division removes the bias toward 0 of an average started at 0 (tensorboard #639). It also skips
 * smoothing altogether when the whole series is constant; that test looks at the future (one new point
 * that differs changes every past value), so it is left out here: every smoothed value depends only on the
 * values before it, and a point's smoothed value never moves as new points arrive. The chart feeds it the
 * points of stable, step-aligned buckets (see buckets.ts), so appends leave the past alone there too.
 */

/** Debiased EMA of `values` with weight `weight` ∈ [0, 1); non-finite values pass through unsmoothed. */
export function debiasedEma(values: ArrayLike<number | null | undefined>, weight: number): (number | null)[] {
  if (!(weight >= 0 && weight < 1)) throw new Error(`smoothing weight must be in [0, 1), got ${weight}`);
  const smoothed = new Array<number | null>(values.length);
  let last = 0;
  let debias = 1;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value == null || !Number.isFinite(value)) {
      smoothed[i] = value ?? null;
      continue;
    }
    last = last * weight + (1 - weight) * value;
    // 1 − wⁿ kept as a running product, so the n-th step costs one multiplication.
    debias *= weight;
    smoothed[i] = last / (1 - debias);
  }
  return smoothed;
}
