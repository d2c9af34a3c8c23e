/**
 * Where an on-policy iteration (PPO, GRPO, RLOO) spends its time: generating the rollout, the forward
 * passes without gradients over it (the reference's log-probs, and the policy's own before the update),
 * scoring it, and the updates — logged as `timing/*`, in seconds per iteration.
 */

/** Seconds of an iteration's rollout phases. */
export interface RolloutTiming {
  generation: number;
  reference: number;
  reward: number;
}

export function rolloutTiming(): RolloutTiming {
  return { generation: 0, reference: 0, reward: 0 };
}

/** A stopwatch over `timing`: each lap adds the seconds since the previous lap (or since it started) to a phase. */
export function lapTimer(timing: RolloutTiming): (phase: keyof RolloutTiming) => void {
  let last = performance.now();
  return (phase) => {
    const now = performance.now();
    timing[phase] += (now - last) / 1000;
    last = now;
  };
}

/**
 * The iteration's timing metrics: the rollout's phases, the update (the rest of the iteration: the
 * optimiser updates over the rollout and the advantages) and the total (`seconds`, the loop's step time).
 */
export function timingMetrics(timing: RolloutTiming, seconds: number): Record<string, number> {
  const rollout = timing.generation + timing.reference + timing.reward;
  return {
    "timing/generation": timing.generation,
    "timing/reference": timing.reference,
    "timing/reward": timing.reward,
    "timing/update": Math.max(0, seconds - rollout),
    "timing/total": seconds,
  };
}
