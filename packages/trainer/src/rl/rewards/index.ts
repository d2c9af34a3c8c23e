/**
 * Reward functions in the job process: build a spec's terms (built-ins and users' modules), call them on a
 * batch, check what they return, and combine the scores. A function that throws, returns the wrong number
 * of scores, or a NaN/±Infinity stops the run with a RewardFunctionError naming it and the batch row.
 */
import type { RewardTerm } from "@rlhf/core/configs";
import { builtinReward } from "./builtins";
import { combineRewards, rewardMetrics } from "./combine";
import { loadUserFunction } from "./load";
import {
  type LoadedReward,
  type RewardBatch,
  type RewardEnv,
  RewardFunctionError,
  type RewardSet,
} from "./types";

export { builtinReward } from "./builtins";
export { combineRewards, rewardMetrics, standardize } from "./combine";
export { loadUserFunction } from "./load";
export * from "./types";

/** Build each term of a spec (loading reward models and users' modules); dispose the set when done. */
export async function loadRewards(terms: RewardTerm[], env: RewardEnv): Promise<RewardSet> {
  const loaded: LoadedReward[] = [];
  const dispose = () => {
    for (const term of loaded) term.dispose?.();
  };
  try {
    for (const term of terms) {
      const { name, weight, normalize, params } = term;
      const built =
        typeof term.function === "string"
          ? await builtinReward(name, term.function, params, env)
          : { fn: await loadUserFunction(name, term.function, env.cwd) };
      loaded.push({ name, weight, normalize, params, ...built });
    }
  } catch (error) {
    dispose();
    throw error;
  }
  return { terms: loaded, dispose };
}

export interface ScoredRewards {
  /** Each function's raw scores, by term name. */
  perFunction: Record<string, number[]>;
  /** Σ weight · (normalised) score per completion: the reward to optimise. */
  total: number[];
  /** Σ weight · raw score per completion: what TRL logs as `reward` / `reward_std` (same as total without normalisation). */
  rawTotal: number[];
  /** rewards/<name>/mean and rewards/<name>/std of every function. */
  metrics: Record<string, number>;
}

/** The first row on which the function throws when called on that row alone (to name it in the error). */
async function failingRow(
  term: LoadedReward,
  batch: RewardBatch,
): Promise<{ row: number; error: unknown } | undefined> {
  const pick = <T>(list: T[], row: number) => list.slice(row, row + 1);
  for (let row = 0; row < batch.completions.length; row++) {
    try {
      await term.fn(pick(batch.prompts, row), pick(batch.completions, row), {
        promptIds: pick(batch.promptIds, row),
        completionIds: pick(batch.completionIds, row),
        ended: pick(batch.ended, row),
        groups: pick(batch.groups, row),
        step: batch.step,
        params: term.params,
      });
    } catch (error) {
      return { row, error };
    }
  }
  return undefined;
}

/** One function's scores on a batch, checked: a number per completion, each finite. */
async function call(term: LoadedReward, batch: RewardBatch): Promise<number[]> {
  const { prompts, completions, ...rest } = batch;
  let out: unknown;
  try {
    out = await term.fn(prompts, completions, { ...rest, params: term.params });
  } catch (error) {
    const located = await failingRow(term, batch);
    const thrown = located?.error ?? error;
    throw new RewardFunctionError(
      term.name,
      located?.row,
      `threw: ${thrown instanceof Error ? thrown.message : String(thrown)}`,
    );
  }
  if (!Array.isArray(out) && !(out instanceof Float32Array || out instanceof Float64Array))
    throw new RewardFunctionError(
      term.name,
      undefined,
      `returned ${out === null ? "null" : typeof out}; expected an array of ${completions.length} numbers`,
    );
  const scores = Array.from(out as ArrayLike<unknown>);
  if (scores.length !== completions.length)
    throw new RewardFunctionError(
      term.name,
      undefined,
      `returned ${scores.length} scores for ${completions.length} completions`,
    );
  scores.forEach((s, row) => {
    if (typeof s !== "number" || !Number.isFinite(s))
      throw new RewardFunctionError(
        term.name,
        row,
        `returned ${typeof s === "number" ? String(s) : (JSON.stringify(s) ?? typeof s)} for completion ${JSON.stringify(completions[row]!.slice(0, 80))}; every score must be a finite number`,
      );
  });
  return scores as number[];
}

/** Score a batch with every function of the set, in order, and combine them. */
export async function scoreRewards(set: RewardSet, batch: RewardBatch): Promise<ScoredRewards> {
  const rows = batch.completions.length;
  for (const [key, value] of Object.entries(batch))
    if (Array.isArray(value) && value.length !== rows)
      throw new Error(`reward batch: ${key} has ${value.length} rows, completions ${rows}`);
  const perFunction: Record<string, number[]> = {};
  for (const term of set.terms) perFunction[term.name] = await call(term, batch);
  return {
    perFunction,
    total: combineRewards(set.terms, perFunction, batch.groups),
    rawTotal: combineRewards(
      set.terms.map((term) => ({ ...term, normalize: "none" as const })),
      perFunction,
      batch.groups,
    ),
    metrics: rewardMetrics(perFunction),
  };
}
