/**
 * Reward functions: the registry of built-ins (name, description, zod parameters) and the reward spec a
 * GRPO/RLOO/PPO config lists. The trainer implements each built-in (packages/trainer/src/rl/rewards); the
 * launch form, the CLI and docs/reference/configs.md read this registry like every other schema.
 *
 * A user's own function is `{ module: "<path to .ts/.js/.mjs>", export: "<name>" }` with TRL's signature
 * `(prompts, completions, extra) => number[] | Promise<number[]>`; launch checks that the file and the export
 * exist (checkRewardSpec in @rlhf/core/rewards) before anything is queued.
 */
import { z } from "zod";
import { unknownConfigKeys } from "./common";
import { checkpointFrom } from "./refs-meta";

/** The two scores of a yes/no reward: `score` when the test passes, `otherwise` when it does not. */
function matchScores(passes: string, fails: string) {
  return {
    score: z.number().default(1).describe(`score ${passes}`),
    otherwise: z.number().default(0).describe(`score ${fails}`),
  };
}

/** The built-in reward functions, each with its parameters. */
export const rewardFunctions = {
  sentiment: {
    description:
      "AFINN-165 sentiment of the completion (sum of word valences), the demo project's oracle annotator",
    params: z.strictObject({}),
  },
  vader: {
    description:
      "VADER sentiment of the completion (its compound score in [−1, 1]): a second judge with its own lexicon and rules for negation, intensifiers and emphasis; English only",
    params: z.strictObject({}),
  },
  length: {
    description: "−penalty · |length − target|: 0 at the target length, lower the further from it",
    params: z.strictObject({
      target: z.number().int().min(0).describe("the length that scores 0 (the best score)"),
      unit: z
        .enum(["tokens", "words", "characters"])
        .default("tokens")
        .describe("what the length counts: completion tokens, whitespace-separated words or characters"),
      penalty: z.number().min(0).default(0.1).describe("score lost per unit of distance from the target"),
    }),
  },
  contains: {
    description:
      "`score` when the completion contains `text` (per occurrence with perOccurrence), else `otherwise`",
    params: z.strictObject({
      text: z.string().min(1, "give the text to look for").describe("the text to look for"),
      ...matchScores("when the text occurs (per occurrence with perOccurrence)", "when it does not"),
      perOccurrence: z.boolean().default(false).describe("score every occurrence instead of once"),
      caseSensitive: z.boolean().default(true).describe("match letter case exactly"),
    }),
  },
  regex: {
    description:
      "`score` when the completion matches the regular expression, else `otherwise` (format rewards)",
    params: z.strictObject({
      pattern: z
        .string()
        .min(1, "give a regular expression")
        .refine(
          (pattern) => {
            try {
              new RegExp(pattern, "u");
              return true;
            } catch {
              return false;
            }
          },
          { message: "not a valid regular expression (JavaScript syntax, u flag)" },
        )
        .describe("JavaScript regular expression, searched anywhere in the completion (anchor with ^…$)"),
      flags: z
        .string()
        .regex(/^(?!.*(.).*\1)[imsu]*$/, "flags: each of i, m, s, u at most once")
        .default("")
        .describe("regular-expression flags among i, m, s (u is always on)"),
      ...matchScores("when the completion matches", "when it does not"),
    }),
  },
  ends: {
    description:
      "`score` when the completion ended with the end-of-text token within the length limit, else `otherwise` (TRL-style format reward)",
    params: z.strictObject(
      matchScores("of a completion that ended", "of a completion cut at the length limit"),
    ),
  },
  reward_model: {
    description:
      "a finished reward-model run scoring prompt + completion at its last token, normalised to mean 0, std 1 on the SFT policy's samples (as PPO uses it)",
    params: z.strictObject({
      checkpoint: checkpointFrom(["reward"]).describe(
        "the reward model: run:<reward run> or a checkpoint directory",
      ),
      normalized: z
        .boolean()
        .default(true)
        .describe("apply the checkpoint's normalisation (gain, bias); false = raw scores"),
    }),
  },
} as const satisfies Record<string, { description: string; params: z.ZodObject }>;

export type BuiltinRewardName = keyof typeof rewardFunctions;
export const builtinRewardNames = Object.keys(rewardFunctions) as BuiltinRewardName[];

export function isBuiltinReward(name: unknown): name is BuiltinRewardName {
  return typeof name === "string" && Object.hasOwn(rewardFunctions, name);
}

/** A user's reward function: an export of a module the job process loads. */
export const userRewardFunctionSchema = z.strictObject({
  module: z
    .string()
    .min(1, "give the path of a .ts, .js or .mjs file")
    .regex(/\.(ts|mts|js|mjs)$/, "expected a .ts, .mts, .js or .mjs file")
    .describe("path of the file (relative to where you launch; stored absolute)"),
  export: z
    .string()
    .min(1, "give the name of an exported function")
    .describe("name of the exported function"),
});

export const normalizeModes = ["none", "batch", "group"] as const;

/** The raw shape of one term, before its parameters are checked against the registry. */
export const rewardTermInputSchema = z.strictObject({
  function: z
    .union([z.string(), userRewardFunctionSchema])
    .describe(`a built-in (${builtinRewardNames.join(", ")}) or { module, export }`),
  params: z
    .record(z.string(), z.unknown())
    .default({})
    .describe("the function's parameters (a built-in's are checked; a module's are passed in extra.params)"),
  weight: z.number().default(1).describe("weight of this function in the summed reward"),
  normalize: z
    .enum(normalizeModes)
    .default("none")
    .describe(
      "standardise this function's scores before the sum: within each prompt's group, within the batch, or not",
    ),
  name: z
    .string()
    .regex(/^[\w.-]+$/, "letters, digits, _, . and - only (it becomes rewards/<name>/mean)")
    .optional()
    .describe("metric name (rewards/<name>/mean); defaults to the built-in's name or the export's"),
});

/**
 * One reward function of a spec, with its weight and normalisation. Parsed: a built-in's params are checked
 * (unknown keys refused by name) and their defaults filled; `name` is always set.
 */
export const rewardTermSchema = rewardTermInputSchema
  .superRefine((term, ctx) => {
    if (typeof term.function === "string") {
      if (!isBuiltinReward(term.function)) {
        ctx.addIssue({
          code: "custom",
          path: ["function"],
          message: `unknown reward function "${term.function}"; expected one of ${builtinRewardNames.join(", ")} or { module, export }`,
        });
        return;
      }
      const schema = rewardFunctions[term.function].params;
      // Unknown keys with the closest known one ("did you mean"); the schema's own issues for the rest.
      for (const issue of unknownConfigKeys(schema, term.params))
        ctx.addIssue({ code: "custom", path: ["params", ...issue.path.split(".")], message: issue.message });
      const parsed = schema.safeParse(term.params);
      if (!parsed.success)
        for (const issue of parsed.error.issues)
          if (issue.code !== "unrecognized_keys")
            ctx.addIssue({ code: "custom", path: ["params", ...issue.path], message: issue.message });
    }
  })
  .transform((term) => {
    const fn = term.function;
    const builtin = typeof fn === "string" ? (fn as BuiltinRewardName) : undefined;
    return {
      function: fn as BuiltinRewardName | { module: string; export: string },
      params: builtin
        ? (rewardFunctions[builtin].params.parse(term.params) as Record<string, unknown>)
        : term.params,
      weight: term.weight,
      normalize: term.normalize,
      name: term.name ?? (typeof fn === "string" ? fn : fn.export),
    };
  })
  .describe("{ function, params?, weight?, normalize?, name? }");

export type RewardTerm = z.output<typeof rewardTermSchema>;
export type RewardTermInput = z.input<typeof rewardTermSchema>;
export type NormalizeMode = (typeof normalizeModes)[number];

/** Terms named twice would log into the same rewards/<name>/… series. */
function uniqueNames(terms: RewardTerm[], ctx: z.RefinementCtx, offset: string[]) {
  const seen = new Set<string>();
  for (const [i, term] of terms.entries()) {
    // A term that failed its own checks has no name yet; its issues are reported already.
    if (typeof term?.name !== "string") continue;
    if (seen.has(term.name))
      ctx.addIssue({
        code: "custom",
        path: [...offset, i, "name"],
        message: `two reward functions are named "${term.name}"; give one a name`,
      });
    seen.add(term.name);
  }
}

export const rewardsSchema = z
  .array(rewardTermSchema, {
    error: (issue) =>
      issue.input === undefined ? "list the reward functions to optimise: [{ function, … }]" : undefined,
  })
  .min(1, "list at least one reward function")
  .superRefine((terms, ctx) => uniqueNames(terms, ctx, []))
  .describe(
    "reward functions whose weighted sum is optimised: [{ function, params?, weight?, normalize?, name? }]; function = sentiment | vader | length | contains | regex | ends | reward_model | { module, export }",
  );

export const evaluationRewardsSchema = z
  .array(rewardTermSchema)
  .superRefine((terms, ctx) => uniqueNames(terms, ctx, []))
  .default([])
  .describe(
    "reward functions that are logged (rewards/<name>/mean|std) but not optimised: the gold reward beside a proxy",
  );

/** The reward spec fields every online trainer spreads into its config. */
export const rewardSpecShape = {
  rewards: rewardsSchema,
  evaluation: evaluationRewardsSchema,
};

export interface RewardSpec {
  rewards: RewardTerm[];
  evaluation: RewardTerm[];
}

/** Refinement for a whole config: evaluation names must not collide with optimised ones. */
export function refineRewardSpec(spec: Partial<RewardSpec>, ctx: z.RefinementCtx): void {
  const optimised = new Set((spec.rewards ?? []).map((t) => t.name));
  for (const [i, term] of (spec.evaluation ?? []).entries())
    if (typeof term?.name === "string" && optimised.has(term.name))
      ctx.addIssue({
        code: "custom",
        path: ["evaluation", i, "name"],
        message: `"${term.name}" is also an optimised reward; give the evaluation function another name`,
      });
}
