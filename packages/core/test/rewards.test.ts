import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  builtinRewardNames,
  ConfigError,
  grpoConfigSchema,
  rewardFunctions,
  rlooConfigSchema,
} from "../src/configs";
import { checkRewardSpec, findPackageAbove } from "../src/rewards";

const issuesOf = (schema: typeof grpoConfigSchema | typeof rlooConfigSchema, input: unknown) => {
  const result = schema.safeParse(input);
  if (result.success) return [];
  return result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

describe("reward spec in a config", () => {
  it("fills each built-in's parameter defaults, the weight, the normalisation and the metric name", () => {
    const config = grpoConfigSchema.parse({
      policy: "run:sft",
      rewards: [
        { function: "length", params: { target: 12 } },
        { function: "contains", params: { text: "great" }, weight: 0.5, normalize: "group", name: "great" },
        { function: { module: "./mine.ts", export: "brevity" }, params: { words: 3 } },
      ],
      evaluation: [{ function: "sentiment" }],
    });
    expect(config.rewards).toEqual([
      {
        function: "length",
        params: { target: 12, unit: "tokens", penalty: 0.1 },
        weight: 1,
        normalize: "none",
        name: "length",
      },
      {
        function: "contains",
        params: { text: "great", score: 1, otherwise: 0, perOccurrence: false, caseSensitive: true },
        weight: 0.5,
        normalize: "group",
        name: "great",
      },
      {
        function: { module: "./mine.ts", export: "brevity" },
        params: { words: 3 },
        weight: 1,
        normalize: "none",
        name: "brevity",
      },
    ]);
    expect(config.evaluation).toEqual([
      { function: "sentiment", params: {}, weight: 1, normalize: "none", name: "sentiment" },
    ]);
    // TRL's GRPOConfig defaults.
    expect(config).toMatchObject({ numGenerations: 8, scaleRewards: "group", lossType: "dapo", beta: 0 });
    expect(config.epsilonHigh).toBeUndefined();
    // The clip range is `epsilon` (TRL's name); Adam's ε is `adamEpsilon`, not the clip range.
    expect([config.epsilon, config.adamEpsilon]).toEqual([0.2, 1e-8]);
    const rloo = rlooConfigSchema.parse({ policy: "run:sft", rewards: [{ function: "sentiment" }] });
    expect(rloo).toMatchObject({
      numGenerations: 2,
      beta: 0.05,
      baseline: "rloo",
      normalizeAdvantages: false,
    });
  });

  it("refuses unknown keys and functions by name, bad parameters by path, and duplicate names", () => {
    expect(
      issuesOf(grpoConfigSchema, {
        policy: "run:sft",
        rewards: [
          { function: "length", params: { target: 10, tagret: 3 } },
          { function: "sentimental" },
          { function: "ends", wieght: 2 },
          { function: "regex", params: { pattern: "((" } },
          { function: { module: "rewards.py", export: "f" } },
          { function: { module: "r.ts", export: "f", extra: 1 } },
          { function: "length" },
        ],
      }),
    ).toEqual([
      'rewards.0.params.tagret: unknown key "tagret"; did you mean "target"?',
      'rewards.1.function: unknown reward function "sentimental"; expected one of sentiment, vader, length, contains, regex, ends, reward_model or { module, export }',
      'rewards.2: Unrecognized key: "wieght"',
      "rewards.3.params.pattern: not a valid regular expression (JavaScript syntax, u flag)",
      "rewards.4.function.module: expected a .ts, .mts, .js or .mjs file",
      expect.stringMatching(/^rewards\.5\.function/),
      "rewards.6.params.target: Invalid input: expected number, received undefined",
    ]);
    expect(
      issuesOf(grpoConfigSchema, {
        policy: "run:sft",
        rewards: [{ function: "sentiment" }, { function: "sentiment" }],
        evaluation: [{ function: "contains", params: { text: "x" }, name: "sentiment" }],
      }),
    ).toEqual([
      'rewards.1.name: two reward functions are named "sentiment"; give one a name',
      'evaluation.0.name: "sentiment" is also an optimised reward; give the evaluation function another name',
    ]);
    expect(
      issuesOf(rlooConfigSchema, {
        policy: "run:sft",
        promptsPerIteration: 6,
        miniBatches: 4,
        epsilon: 1,
        rewards: [{ function: "regex", params: { pattern: "x", flags: "ii" } }],
      }),
    ).toEqual([
      "epsilon: Too big: expected number to be <1",
      "rewards.0.params.flags: flags: each of i, m, s, u at most once",
      "miniBatches: must divide promptsPerIteration (6): a minibatch holds whole groups",
    ]);
    expect(issuesOf(grpoConfigSchema, { policy: "run:sft" })).toEqual([
      "rewards: list the reward functions to optimise: [{ function, … }]",
    ]);
  });

  it("registers every built-in with a description and documented parameters", () => {
    expect(builtinRewardNames).toEqual(
      expect.arrayContaining(["sentiment", "vader", "length", "contains", "regex", "ends", "reward_model"]),
    );
    for (const [name, { description, params }] of Object.entries(rewardFunctions)) {
      expect(description, name).toBeTruthy();
      for (const [param, schema] of Object.entries(params.shape))
        expect((schema as { description?: string }).description, `${name}.${param}`).toBeTruthy();
    }
    for (const schema of [grpoConfigSchema, rlooConfigSchema])
      for (const [field, fieldSchema] of Object.entries(schema.shape))
        expect((fieldSchema as { description?: string }).description, field).toBeTruthy();
  });
});

describe("checkRewardSpec (launch time)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "reward-spec-"));
  writeFileSync(
    path.join(dir, "mine.ts"),
    "export const LIMIT: number = 3;\nexport function brevity(prompts: string[], completions: string[]): number[] {\n  return completions.map((c) => -c.length);\n}\n",
  );
  writeFileSync(path.join(dir, "broken.mjs"), "throw new Error('cannot load me');\n");
  const spec = (fn: { module: string; export: string }) => ({
    rewards: [
      {
        function: "sentiment" as const,
        params: {},
        weight: 1,
        normalize: "none" as const,
        name: "sentiment",
      },
      { function: fn, params: {}, weight: 1, normalize: "none" as const, name: fn.export },
    ],
    evaluation: [],
  });

  it("accepts a .ts module that exports the function, and stores its absolute path", async () => {
    const checked = await checkRewardSpec(spec({ module: "mine.ts", export: "brevity" }), dir);
    expect(checked.rewards[1]!.function).toEqual({ module: path.join(dir, "mine.ts"), export: "brevity" });
    expect(checked.rewards[0]!.function).toBe("sentiment");
  });

  it("refuses a missing file, a missing export, a non-function export and a module that throws", async () => {
    const refused = async (fn: { module: string; export: string }) => {
      const error = await checkRewardSpec(spec(fn), dir, "grpo").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).issues;
    };
    expect(await refused({ module: "nope.ts", export: "brevity" })).toEqual([
      { path: "rewards.1.function.module", message: `no such file: ${path.join(dir, "nope.ts")}` },
    ]);
    expect(await refused({ module: "mine.ts", export: "brevty" })).toEqual([
      {
        path: "rewards.1.function.export",
        message: `${path.join(dir, "mine.ts")} exports nothing named "brevty"; its functions: brevity`,
      },
    ]);
    expect((await refused({ module: "mine.ts", export: "LIMIT" }))[0]!.message).toContain(
      'exports a number, not a function, as "LIMIT"',
    );
    const [thrown] = await refused({ module: "broken.mjs", export: "f" });
    expect(thrown!.path).toBe("rewards.1.function.module");
    expect(thrown!.message).toContain("cannot load me");
  });
});

describe("findPackageAbove (how a bundled server finds tsx)", () => {
  it("finds a package in pnpm's store above a folder, and nothing above an empty temporary folder", () => {
    const dashboard = fileURLToPath(new URL("../../../apps/dashboard", import.meta.url));
    const tsx = findPackageAbove("tsx", dashboard);
    expect(tsx).toBeDefined();
    expect(JSON.parse(readFileSync(path.join(tsx!, "package.json"), "utf8")).name).toBe("tsx");
    expect(findPackageAbove("tsx", mkdtempSync(path.join(tmpdir(), "no-packages-")))).toBeUndefined();
  });
});
