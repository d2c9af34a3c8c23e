/**
 * The built-in reward functions of the registry in @rlhf/core/configs (rewards.ts), which owns their names,
 * parameters and defaults; here each becomes a RewardFunction. Parameters arrive parsed (defaults filled).
 */
import type { BuiltinRewardName, rewardFunctions } from "@rlhf/core/configs";
import { oracleScore, vaderScore } from "@rlhf/core/demo";
import type { z } from "zod";
import { loadCheckpoint } from "../../checkpoint";
import { applyNormalization, rewardScores } from "../reward-model";
import { type RewardEnv, type RewardFunction, RewardFunctionError } from "./types";

type Built = { fn: RewardFunction; dispose?: () => void };
/** A built-in's parameters as its registry schema parses them. */
type Params<N extends BuiltinRewardName> = z.output<(typeof rewardFunctions)[N]["params"]>;

/** Occurrences of `needle` in `text` (non-overlapping, as String.split counts them). */
function occurrences(text: string, needle: string, caseSensitive: boolean): number {
  return caseSensitive
    ? text.split(needle).length - 1
    : text.toLocaleLowerCase().split(needle.toLocaleLowerCase()).length - 1;
}

function lengthOf(unit: string, text: string, ids: number[]): number {
  if (unit === "tokens") return ids.length;
  if (unit === "words") return text.split(/\s+/u).filter(Boolean).length;
  return [...text].length; // characters: code points, not UTF-16 units
}

export async function builtinReward(
  name: string,
  builtin: BuiltinRewardName,
  params: Record<string, unknown>,
  env: RewardEnv,
): Promise<Built> {
  const p = <N extends BuiltinRewardName>() => params as Params<N>;
  switch (builtin) {
    case "sentiment":
      return { fn: (_prompts, completions) => completions.map((c) => oracleScore(c)) };
    case "vader":
      return {
        fn: (_prompts, completions) =>
          completions.map((c) => {
            const score = vaderScore(c);
            // Scoring names the function and the batch row of a throw.
            if (score === null) throw new Error("VADER reads English only; this completion is Chinese");
            return score;
          }),
      };
    case "length": {
      const { target, unit, penalty } = p<"length">();
      return {
        fn: (_prompts, completions, extra) =>
          completions.map(
            (c, i) => 0 - penalty * Math.abs(lengthOf(unit, c, extra.completionIds[i]!) - target),
          ),
      };
    }
    case "contains": {
      const { text, score, otherwise, perOccurrence, caseSensitive } = p<"contains">();
      return {
        fn: (_prompts, completions) =>
          completions.map((c) => {
            const n = occurrences(c, text, caseSensitive);
            return n === 0 ? otherwise : perOccurrence ? n * score : score;
          }),
      };
    }
    case "regex": {
      const { pattern, flags, score, otherwise } = p<"regex">();
      // No g flag: test() keeps no lastIndex between completions.
      const re = new RegExp(pattern, `${flags.replace("u", "")}u`);
      return { fn: (_prompts, completions) => completions.map((c) => (re.test(c) ? score : otherwise)) };
    }
    case "ends": {
      const { score, otherwise } = p<"ends">();
      return {
        fn: (_prompts, completions, extra) => completions.map((_, i) => (extra.ended[i] ? score : otherwise)),
      };
    }
    case "reward_model": {
      const { checkpoint, normalized } = p<"reward_model">();
      const dir = await env.resolveCheckpoint(checkpoint);
      const rm = await loadCheckpoint(dir, { rewardHead: true, trainable: false });
      const { tokenizer } = env;
      if (rm.tokenizer.vocabSize !== tokenizer.vocabSize || rm.tokenizer.eosId !== tokenizer.eosId) {
        rm.model.dispose();
        throw new RewardFunctionError(
          name,
          undefined,
          `the reward model's tokenizer (${rm.tokenizer.vocabSize} tokens) is not the policy's (${tokenizer.vocabSize}); train the reward model from this policy's SFT checkpoint`,
        );
      }
      if (normalized && !rm.rewardNormalization)
        env.log?.(
          `reward function "${name}": the reward model has no normalisation; using raw scores`,
          "warn",
        );
      const norm = normalized ? rm.rewardNormalization : undefined;
      return {
        // Prompt + completion tokens, scored at the last one, as PPO scores its rollouts.
        fn: (_prompts, _completions, extra) =>
          rewardScores(
            rm.model,
            extra.promptIds.map((prompt, i) => [...prompt, ...extra.completionIds[i]!]),
            tokenizer.padId,
          ).map((s) => applyNormalization(s, norm)),
        dispose: () => rm.model.dispose(),
      };
    }
  }
}
