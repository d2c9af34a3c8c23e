/**
 * Learning rate at `step` (0-based): linear warm-up to `peak` over `warmupSteps`, then cosine decay to
 * `min` at `totalSteps` (nanoGPT's get_lr). Past the end it stays at `min`.
 */
export function cosineLearningRate(
  step: number,
  o: { peak: number; min: number; warmupSteps: number; totalSteps: number },
): number {
  if (o.warmupSteps > 0 && step < o.warmupSteps) return (o.peak * (step + 1)) / o.warmupSteps;
  if (step >= o.totalSteps) return o.min;
  const decaySteps = Math.max(1, o.totalSteps - o.warmupSteps);
  const progress = (step - o.warmupSteps) / decaySteps;
  const coeff = 0.5 * (1 + Math.cos(Math.PI * progress)); // 1 → 0
  return o.min + coeff * (o.peak - o.min);
}

/** Linear annealing from `peak` to `min` over `totalSteps` (PPO's "learning rate annealed to zero"). */
export function linearLearningRate(
  step: number,
  o: { peak: number; min: number; totalSteps: number },
): number {
  const frac = Math.min(1, step / Math.max(1, o.totalSteps));
  return o.peak + (o.min - o.peak) * frac;
}

/** The shape after warm-up: cosine decay (nanoGPT) or linear annealing (PPO, CleanRL). */
export type ScheduleShape = "cosine" | "linear";

/**
 * The learning rate of every trainer at `step` (0-based): linear warm-up to `peak` over `warmupSteps`
 * (as in cosineLearningRate), then `shape` from `peak` to `min` at `totalSteps`. Without warm-up the linear
 * shape is exactly linearLearningRate.
 */
export function learningRateAt(
  step: number,
  o: { shape: ScheduleShape; peak: number; min: number; warmupSteps: number; totalSteps: number },
): number {
  if (o.shape === "cosine") return cosineLearningRate(step, o);
  if (o.warmupSteps > 0 && step < o.warmupSteps) return (o.peak * (step + 1)) / o.warmupSteps;
  return linearLearningRate(step - o.warmupSteps, {
    peak: o.peak,
    min: o.min,
    totalSteps: o.totalSteps - o.warmupSteps,
  });
}
