/**
 * Several reward functions → one reward per completion: a weighted sum, each function's scores optionally
 * standardised first within the prompt's group or the batch (as TRL's multi_objective_aggregation
 * "normalize_then_sum", after GDPO: a function with a large scale cannot drown the others), and the
 * per-function statistics TRL logs as rewards/<name>/mean and rewards/<name>/std.
 */
import type { NormalizeMode } from "@rlhf/core/configs";
import { meanStd, STD_EPSILON } from "../grpo-math";

/** (x − mean)/(std + 1e-4) within each group (rows sharing `groups[i]`), within the batch, or x unchanged. */
export function standardize(values: number[], mode: NormalizeMode, groups: number[]): number[] {
  if (mode === "none") return values.slice();
  if (mode === "batch") {
    const { mean, std } = meanStd(values);
    return values.map((v) => (v - mean) / (std + STD_EPSILON));
  }
  const members = new Map<number, number[]>();
  groups.forEach((g, i) => {
    const list = members.get(g);
    if (list) list.push(i);
    else members.set(g, [i]);
  });
  const out = new Array<number>(values.length);
  for (const rows of members.values()) {
    const { mean, std } = meanStd(rows.map((i) => values[i]!));
    for (const i of rows) out[i] = (values[i]! - mean) / (std + STD_EPSILON);
  }
  return out;
}

/** Σ_f weight_f · standardise_f(scores_f), per completion. */
export function combineRewards(
  terms: { name: string; weight: number; normalize: NormalizeMode }[],
  scores: Record<string, number[]>,
  groups: number[],
): number[] {
  const total = new Array<number>(groups.length).fill(0);
  for (const term of terms) {
    const values = standardize(scores[term.name]!, term.normalize, groups);
    values.forEach((v, i) => {
      total[i]! += term.weight * v;
    });
  }
  return total;
}

/** rewards/<name>/mean and rewards/<name>/std (Bessel-corrected, TRL's nanstd) of each function's raw scores. */
export function rewardMetrics(scores: Record<string, number[]>): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const [name, values] of Object.entries(scores)) {
    const { mean, std } = meanStd(values);
    metrics[`rewards/${name}/mean`] = mean;
    metrics[`rewards/${name}/std`] = std;
  }
  return metrics;
}
