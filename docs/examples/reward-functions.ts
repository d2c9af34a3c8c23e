/**
 * Example reward functions for GRPO and RLOO (see docs/reward-functions.md). List one in a config as
 *
 *   { "function": { "module": "docs/examples/reward-functions.ts", "export": "brevity" },
 *     "params": { "maxWords": 12 } }
 *
 * Each takes TRL's arguments — the prompts, the completions (row i answers prompts[i]) and `extra` — and
 * returns one finite number per completion, or a promise of them. The workbench's tests load this file and
 * run every function in it.
 */

/** What the trainer passes besides the texts (a subset of RewardExtra in packages/trainer/src/rl/rewards). */
interface Extra {
  /** Token ids of each completion; it ends with the end-of-text token when the completion ended. */
  completionIds: number[][];
  /** Whether each completion ended (else it was cut at maxCompletionLength). */
  ended: boolean[];
  /** The prompt each row answers: rows with the same number are one group of G completions. */
  groups: number[];
  /** The generation round, for rewards that change over training. */
  step: number;
  /** The `params` of this term in the config. */
  params: Record<string, unknown>;
}

const words = (text: string) => text.split(/\s+/u).filter(Boolean);

/** 1 for a completion of at most `params.maxWords` words (default 12), falling linearly to 0 at twice that. */
export function brevity(_prompts: string[], completions: string[], extra: Extra): number[] {
  const maxWords = typeof extra.params.maxWords === "number" ? extra.params.maxWords : 12;
  return completions.map((c) => {
    const n = words(c).length;
    return n <= maxWords ? 1 : Math.max(0, 2 - n / maxWords);
  });
}

/** −(share of words that repeat an earlier word): discourages "good good good". */
export function noRepeats(_prompts: string[], completions: string[]): number[] {
  return completions.map((c) => {
    const list = words(c.toLowerCase());
    if (list.length === 0) return 0;
    return (new Set(list).size - list.length) / list.length;
  });
}

/** Mentions the prompt's topic: 1 when a word of five letters or more from the prompt recurs in the answer. */
export function onTopic(prompts: string[], completions: string[]): number[] {
  return completions.map((c, i) => {
    const answer = new Set(words(c.toLowerCase()));
    const topic = words(prompts[i]!.toLowerCase()).filter((w) => w.length >= 5);
    return topic.some((w) => answer.has(w)) ? 1 : 0;
  });
}

/**
 * Uses the group: 1 for a completion no other completion of its prompt repeats word for word, else 0.
 * Async, as a function that calls a service would be.
 */
export async function distinctInGroup(
  _prompts: string[],
  completions: string[],
  extra: Extra,
): Promise<number[]> {
  return completions.map((c, i) =>
    completions.some((other, j) => j !== i && extra.groups[j] === extra.groups[i] && other === c) ? 0 : 1,
  );
}
