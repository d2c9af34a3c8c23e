/**
 * `rlhf rewards`: the reward-function registry on the command line (`list`), and a user's function tried on
 * a few completions before it goes into a run (`try`) — loaded and checked exactly as a run loads it.
 */

import { rewardFunctions, rewardTermSchema } from "@rlhf/core/configs";
import { describeField } from "@rlhf/core/configs/reference";
import type { z } from "zod";
import { loadRewards, scoreRewards } from "../rl/rewards";
import type { Tokenizer } from "../tokenizer";

export function listRewardsCommand(options: { json?: boolean }): void {
  const entries = Object.entries(rewardFunctions).map(([name, { description, params }]) => ({
    name,
    description,
    params: Object.entries(params.shape as Record<string, z.ZodType>).map(([param, schema]) => {
      const f = describeField(schema);
      return {
        name: param,
        type: f.type.replaceAll("\\|", "|"), // the reference escapes | for its markdown tables
        default: f.defaultValue || undefined,
        required: f.required,
        description: schema.description ?? "",
      };
    }),
  }));
  if (options.json) {
    process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
    return;
  }
  const lines: string[] = [];
  for (const entry of entries) {
    lines.push(`${entry.name} — ${entry.description}`);
    for (const p of entry.params)
      lines.push(
        `    ${p.name}: ${p.type}${p.required ? " (required)" : p.default ? ` = ${p.default}` : ""} — ${p.description}`,
      );
  }
  lines.push(
    'your own: { "module": "<file.ts|.js|.mjs>", "export": "<name>" } — try it with `rlhf rewards try`',
  );
  process.stdout.write(`${lines.join("\n")}\n`);
}

/** Token ids are not known outside a run: a function reading extra.*Ids gets empty lists here. */
const NO_TOKENIZER = new Proxy({} as Tokenizer, {
  get() {
    throw new Error("`rlhf rewards try` has no tokenizer: try a reward_model inside a run");
  },
});

export async function tryRewardCommand(
  file: string,
  exportName: string,
  options: { completion: string[]; prompt?: string; params?: string; ended?: boolean; json?: boolean },
): Promise<void> {
  let params: unknown = {};
  if (options.params !== undefined) {
    try {
      params = JSON.parse(options.params);
    } catch (error) {
      throw new Error(`--params: not JSON: ${(error as Error).message}`);
    }
  }
  const parsed = rewardTermSchema.safeParse({ function: { module: file, export: exportName }, params });
  if (!parsed.success)
    throw new Error(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
  const set = await loadRewards([parsed.data], {
    tokenizer: NO_TOKENIZER,
    resolveCheckpoint: async (ref) => ref,
  });
  try {
    const completions = options.completion;
    const { perFunction } = await scoreRewards(set, {
      prompts: completions.map(() => options.prompt ?? ""),
      completions,
      promptIds: completions.map(() => []),
      completionIds: completions.map(() => []),
      ended: completions.map(() => options.ended ?? true),
      groups: completions.map(() => 0),
      step: 0,
    });
    const scores = perFunction[parsed.data.name]!;
    if (options.json) {
      process.stdout.write(
        `${JSON.stringify(completions.map((completion, i) => ({ completion, score: scores[i] })))}\n`,
      );
      return;
    }
    process.stdout.write(`${completions.map((c, i) => `${scores[i]}\t${JSON.stringify(c)}`).join("\n")}\n`);
  } finally {
    set.dispose();
  }
}
