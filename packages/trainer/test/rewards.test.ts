import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type RewardTermInput, rewardFunctions, rewardTermSchema } from "@rlhf/core/configs";
import { generateDemo, vaderScore } from "@rlhf/core/demo";
import { runs } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHECKPOINT_FILES, loadCheckpoint, saveCheckpoint } from "../src/checkpoint";
import { GPT, gptConfig } from "../src/model";
import { rewardScores } from "../src/rl/reward-model";
import {
  loadRewards,
  type RewardBatch,
  type RewardEnv,
  RewardFunctionError,
  type RewardSet,
  scoreRewards,
  standardize,
} from "../src/rl/rewards";
import { type Tokenizer, trainBpe } from "../src/tokenizer";
import { runCli } from "./fixtures/processes";

const dir = mkdtempSync(path.join(os.tmpdir(), "rewards-test-"));
const tokenizer: Tokenizer = trainBpe(generateDemo({ corpusSize: 60 }).corpus, { vocabSize: 280 });
const env: RewardEnv = { tokenizer, resolveCheckpoint: async (ref) => ref, cwd: dir };
const terms = (...inputs: RewardTermInput[]) => inputs.map((t) => rewardTermSchema.parse(t));

/** Two prompts, G = 2: rows 0–1 answer prompt 0, rows 2–3 prompt 1. */
const completions = ["a good day", "Good good good", "bad", "a plain answer here"];
const batch: RewardBatch = {
  prompts: ["p0", "p0", "p1", "p1"],
  completions,
  promptIds: completions.map(() => tokenizer.encode("Hi")),
  completionIds: completions.map((c) => tokenizer.encode(c)),
  ended: [true, false, true, false],
  groups: [0, 0, 1, 1],
  step: 3,
};

async function scores(...inputs: RewardTermInput[]) {
  const set = await loadRewards(terms(...inputs), env);
  try {
    return await scoreRewards(set, batch);
  } finally {
    set.dispose();
  }
}

describe("built-in reward functions", () => {
  it("sentiment is the AFINN oracle: good +3, bad −3, case-insensitive", async () => {
    expect((await scores({ function: "sentiment" })).perFunction.sentiment).toEqual([3, 9, -3, 0]);
  });

  it("vader is VADER's compound score, and refuses a Chinese completion naming the row", async () => {
    const got = (await scores({ function: "vader" })).perFunction.vader!;
    expect(got).toEqual(completions.map((c) => vaderScore(c)));
    expect(got[0]).toBeCloseTo(0.4404, 4); // "a good day": VADER's "good" alone
    expect(got[2]).toBeLessThan(0);
    expect(got[3]).toBe(0);
    const set = await loadRewards(terms({ function: "vader" }), env);
    try {
      await expect(
        scoreRewards(set, { ...batch, completions: ["fine", "很好", "ok", "no"] }),
      ).rejects.toThrow('reward function "vader" at batch row 1: threw: VADER reads English only');
    } finally {
      set.dispose();
    }
  });

  it("length scores −penalty·|length − target| in words, characters or tokens", async () => {
    const { perFunction } = await scores(
      { function: "length", params: { target: 3, unit: "words", penalty: 0.5 }, name: "words" },
      { function: "length", params: { target: 3, unit: "characters", penalty: 1 }, name: "chars" },
      { function: "length", params: { target: 0 }, name: "tokens" },
    );
    expect(perFunction.words).toEqual([0, 0, -1, -0.5]);
    expect(perFunction.chars).toEqual([-7, -11, 0, -16]);
    expect(perFunction.tokens).toEqual(batch.completionIds.map((ids) => -0.1 * ids.length));
  });

  it("contains scores once or per occurrence, with or without case", async () => {
    const { perFunction } = await scores(
      { function: "contains", params: { text: "good", score: 2, otherwise: -1 }, name: "once" },
      { function: "contains", params: { text: "good", perOccurrence: true }, name: "each" },
      {
        function: "contains",
        params: { text: "good", perOccurrence: true, caseSensitive: false },
        name: "nocase",
      },
    );
    expect(perFunction.once).toEqual([2, 2, -1, -1]);
    expect(perFunction.each).toEqual([1, 2, 0, 0]);
    expect(perFunction.nocase).toEqual([1, 3, 0, 0]);
  });

  it("regex scores a match, ends scores a completion that ended", async () => {
    const { perFunction } = await scores(
      { function: "regex", params: { pattern: "^a .* day$" }, name: "day" },
      { function: "regex", params: { pattern: "GOOD", flags: "i", score: 5 }, name: "loud" },
      { function: "ends", params: { otherwise: -1 } },
    );
    expect(perFunction.day).toEqual([1, 0, 0, 0]);
    expect(perFunction.loud).toEqual([5, 5, 0, 0]);
    expect(perFunction.ends).toEqual([1, -1, 1, -1]);
  });

  describe("reward_model", () => {
    const rmDir = path.join(dir, "rm");
    let model: GPT;
    beforeAll(async () => {
      model = new GPT(
        gptConfig("tiny", { nLayer: 1, nEmbd: 16, nHead: 2, nPositions: 64, vocabSize: tokenizer.vocabSize }),
        { seed: 5, rewardHead: true },
      );
      await saveCheckpoint(rmDir, model, tokenizer, {
        extraFiles: { [CHECKPOINT_FILES.rewardNormalization]: { gain: 2, bias: -1, samples: 8 } },
      });
    });
    afterAll(() => model.dispose());

    it("scores prompt + completion tokens at the last one, with the checkpoint's normalisation", async () => {
      const raw = rewardScores(
        model,
        batch.promptIds.map((p, i) => [...p, ...batch.completionIds[i]!]),
        tokenizer.padId,
      );
      const { perFunction } = await scores(
        { function: "reward_model", params: { checkpoint: rmDir } },
        { function: "reward_model", params: { checkpoint: rmDir, normalized: false }, name: "raw" },
      );
      for (const [i, r] of raw.entries()) {
        expect(perFunction.reward_model![i]).toBeCloseTo(2 * r - 1, 4);
        expect(perFunction.raw![i]).toBeCloseTo(r, 4);
      }
      expect(new Set(raw).size).toBeGreaterThan(1);
    });

    it("refuses a reward model whose tokenizer is not the policy's", async () => {
      const other = trainBpe(generateDemo({ corpusSize: 60 }).corpus, { vocabSize: 300 });
      const error = await loadRewards(terms({ function: "reward_model", params: { checkpoint: rmDir } }), {
        ...env,
        tokenizer: other,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RewardFunctionError);
      expect((error as Error).message).toMatch(
        /reward function "reward_model": the reward model's tokenizer/,
      );
      // The checkpoint itself still loads: nothing was left half-built.
      expect(
        (await loadCheckpoint(rmDir, { rewardHead: true, trainable: false })).rewardNormalization,
      ).toEqual({
        gain: 2,
        bias: -1,
        samples: 8,
      });
    });
  });
});

describe("a user's reward function from a file", () => {
  beforeAll(() => {
    writeFileSync(
      path.join(dir, "mine.ts"),
      [
        "type Extra = { params: Record<string, unknown>; groups: number[] };",
        "export async function brevity(prompts: string[], completions: string[], extra: Extra): Promise<number[]> {",
        "  const limit = (extra.params.limit as number) ?? 10;",
        "  return completions.map((c, i) => (c.length <= limit ? 1 : 0) + extra.groups[i]! * 100 + prompts.length * 0);",
        "}",
        "export const steps = (_p: string[], c: string[], extra: { step: number }) => c.map(() => extra.step);",
        "export function throwsOnBad(_p: string[], c: string[]) {",
        "  return c.map((text) => { if (text === 'bad') throw new Error('cannot score bad'); return 1; });",
        "}",
        "export const nanOnRow2 = (_p: string[], c: string[]) => c.map((_, i) => (i === 2 ? Number.NaN : 0));",
        "export const infinite = (_p: string[], c: string[]) => c.map((_, i) => (i === 3 ? -Infinity : 0));",
        "export const tooShort = (_p: string[], c: string[]) => c.slice(1).map(() => 0);",
        "export const notAList = () => 42;",
        "export const words = ['not', 'a', 'function'];",
      ].join("\n"),
    );
  });

  it("loads a .ts module and calls the export with prompts, completions and extra (params, groups, step)", async () => {
    const { perFunction } = await scores(
      { function: { module: "mine.ts", export: "brevity" }, params: { limit: 3 } },
      { function: { module: path.join(dir, "mine.ts"), export: "steps" } },
    );
    expect(perFunction.brevity).toEqual([0, 0, 101, 100]);
    expect(perFunction.steps).toEqual([3, 3, 3, 3]);
  });

  const failure = async (exportName: string) => {
    const set = await loadRewards(terms({ function: { module: "mine.ts", export: exportName } }), env);
    try {
      return await scoreRewards(set, batch).catch((e: unknown) => e);
    } finally {
      set.dispose();
    }
  };

  it("stops on a function that throws, naming it, the batch row and the message", async () => {
    const error = await failure("throwsOnBad");
    expect(error).toBeInstanceOf(RewardFunctionError);
    expect((error as RewardFunctionError).row).toBe(2);
    expect((error as Error).message).toBe(
      'reward function "throwsOnBad" at batch row 2: threw: cannot score bad',
    );
  });

  it("stops on NaN, ±Infinity, the wrong number of scores, or no array", async () => {
    expect(((await failure("nanOnRow2")) as Error).message).toMatch(
      /^reward function "nanOnRow2" at batch row 2: returned NaN for completion "bad"; every score must be a finite number$/,
    );
    expect(((await failure("infinite")) as Error).message).toMatch(
      /^reward function "infinite" at batch row 3: returned -Infinity/,
    );
    expect(((await failure("tooShort")) as Error).message).toBe(
      'reward function "tooShort": returned 3 scores for 4 completions',
    );
    expect(((await failure("notAList")) as Error).message).toBe(
      'reward function "notAList": returned number; expected an array of 4 numbers',
    );
  });

  it("refuses a missing file or a missing export when loading", async () => {
    const load = (fn: { module: string; export: string }) =>
      loadRewards(terms({ function: fn }), env).then(
        () => new Error("loaded"),
        (e: unknown) => e as Error,
      );
    const missing = await load({ module: "gone.ts", export: "brevity" });
    expect(missing).toBeInstanceOf(RewardFunctionError);
    expect(missing.message).toBe(`reward function "brevity": no such file: ${path.join(dir, "gone.ts")}`);
    const noExport = await load({ module: "mine.ts", export: "brevty" });
    expect(noExport.message).toMatch(
      /^reward function "brevty": .*mine\.ts exports nothing named "brevty"; its functions: .*brevity/,
    );
    expect((await load({ module: "mine.ts", export: "words" })).message).toContain(
      'exports a object, not a function, as "words"',
    );
  });
});

describe("combining several functions", () => {
  it("sums weight · score, logs rewards/<name>/mean and std of the raw scores", async () => {
    const { total, rawTotal, metrics, perFunction } = await scores(
      { function: "sentiment", weight: 0.5 },
      { function: "ends", params: { otherwise: -1 }, weight: 2 },
    );
    expect(perFunction.sentiment).toEqual([3, 9, -3, 0]);
    expect(total).toEqual([0.5 * 3 + 2, 0.5 * 9 - 2, 0.5 * -3 + 2, -2]);
    expect(rawTotal).toEqual(total);
    // sentiment: mean 9/4; Bessel variance Σ(x − 2.25)² / 3.
    const variance = [3, 9, -3, 0].reduce((a, x) => a + (x - 2.25) ** 2, 0) / 3;
    expect(metrics["rewards/sentiment/mean"]).toBe(2.25);
    expect(metrics["rewards/sentiment/std"]).toBeCloseTo(Math.sqrt(variance), 10);
    expect(metrics["rewards/ends/mean"]).toBe(0);
    expect(metrics["rewards/ends/std"]).toBeCloseTo(Math.sqrt(4 / 3), 10);
  });

  it("standardises a function within each group or the batch before the sum, so a large scale cannot drown the others", async () => {
    // chars is ~10× larger than ends; standardised per group, both count alike.
    const { total, rawTotal } = await scores(
      {
        function: "length",
        params: { target: 0, unit: "characters", penalty: 10 },
        name: "chars",
        normalize: "group",
      },
      { function: "ends", params: { otherwise: -1 }, normalize: "group" },
    );
    // chars: group 0 scores −100, −140, group 1 −30, −190; ends: 1, −1 in both. Two values standardise to
    // ±(a − b)/2 / (|a − b|/√2 + 1e-4) ≈ ±0.707 whatever their scale.
    const g = (a: number, b: number) => {
      const s = Math.abs(a - b) / Math.SQRT2 + 1e-4;
      const m = (a + b) / 2;
      return [(a - m) / s, (b - m) / s];
    };
    const chars = [...g(-100, -140), ...g(-30, -190)];
    const ends = [...g(1, -1), ...g(1, -1)];
    for (let i = 0; i < 4; i++) expect(total[i]).toBeCloseTo(chars[i]! + ends[i]!, 4);
    expect(Math.max(...total.map(Math.abs))).toBeLessThan(1.5);
    // TRL logs `reward` as the weighted sum of the raw scores, normalised or not.
    expect(rawTotal).toEqual([-100 + 1, -140 - 1, -30 + 1, -190 - 1]);
  });

  it("standardize: batch, group (by group number, not position) and none", () => {
    const s = Math.sqrt(20 / 3) + 1e-4; // [0, 2, 4, 6]: mean 3, Σ(x − 3)² = 20
    expect(standardize([0, 2, 4, 6], "batch", [0, 0, 1, 1])).toEqual([-3 / s, -1 / s, 1 / s, 3 / s]);
    const t = Math.sqrt(8) + 1e-4; // groups {0, 4} and {2, 6}: each std √8
    expect(standardize([0, 2, 4, 6], "group", [0, 1, 0, 1])).toEqual([-2 / t, -2 / t, 2 / t, 2 / t]);
    expect(standardize([0, 2], "none", [0, 0])).toEqual([0, 2]);
  });

  it("frees every loaded function with the set", async () => {
    const set: RewardSet = await loadRewards(terms({ function: "sentiment" }, { function: "ends" }), env);
    let freed = 0;
    for (const term of set.terms) term.dispose = () => freed++;
    set.dispose();
    expect(freed).toBe(2);
  });
});

describe("docs/examples/reward-functions.ts", () => {
  const example = fileURLToPath(new URL("../../../docs/examples/reward-functions.ts", import.meta.url));

  it("loads and every function scores as its doc says", async () => {
    const set = await loadRewards(
      terms(
        { function: { module: example, export: "brevity" }, params: { maxWords: 2 } },
        { function: { module: example, export: "noRepeats" } },
        { function: { module: example, export: "onTopic" } },
        { function: { module: example, export: "distinctInGroup" } },
      ),
      env,
    );
    const completions = ["The garden is lovely", "the garden garden", "Sunny", "Sunny"];
    try {
      const { perFunction } = await scoreRewards(set, {
        ...batch,
        prompts: [
          "Tell me about the garden",
          "Tell me about the garden",
          "Describe the weather",
          "Describe the weather",
        ],
        completions,
        completionIds: completions.map((c) => tokenizer.encode(c)),
      });
      expect(perFunction).toEqual({
        brevity: [0, 0.5, 1, 1], // 4 words > 2 → max(0, 2 − 4/2); 3 words → 2 − 3/2
        noRepeats: [0, -1 / 3, 0, 0],
        onTopic: [1, 1, 0, 0],
        distinctInGroup: [1, 1, 0, 0],
      });
    } finally {
      set.dispose();
    }
  });
});

describe("rlhf rewards", () => {
  const example = fileURLToPath(new URL("../../../docs/examples/reward-functions.ts", import.meta.url));
  // These commands never open the database.
  const noDatabase = "postgres://unused@127.0.0.1:1/none";

  it("try scores completions with a user's function as a run would, and refuses a missing export", async () => {
    const tried = await runCli(noDatabase, [
      "rewards",
      "try",
      example,
      "brevity",
      "--completion",
      "short one",
      "one two three four five six seven",
      "--params",
      '{"maxWords": 4}',
      "--json",
    ]);
    expect(tried.stderr).toBe("");
    expect(JSON.parse(tried.stdout)).toEqual([
      { completion: "short one", score: 1 },
      { completion: "one two three four five six seven", score: 0.25 }, // 2 − 7/4
    ]);
    const refused = await runCli(noDatabase, ["rewards", "try", example, "brevty", "--completion", "x"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('exports nothing named "brevty"; its functions: brevity');
  });

  it("list prints the registry with each parameter's type and default", async () => {
    const listed = await runCli(noDatabase, ["rewards", "list", "--json"]);
    const entries = JSON.parse(listed.stdout) as { name: string; params: { name: string; type: string }[] }[];
    expect(entries.map((e) => e.name)).toEqual(Object.keys(rewardFunctions));
    expect(entries.find((e) => e.name === "length")!.params).toContainEqual({
      name: "unit",
      type: '"tokens" | "words" | "characters"',
      default: '"tokens"',
      required: false,
      description: expect.stringContaining("what the length counts"),
    });
  });
});

describe("rlhf train with a user's reward function", () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => t?.drop());

  it("refuses a missing export before recording a run", async () => {
    const config = path.join(dir, "grpo.json");
    writeFileSync(
      config,
      JSON.stringify({
        policy: dir,
        rewards: [{ function: { module: path.join(dir, "mine.ts"), export: "brevty" } }],
      }),
    );
    const refused = await runCli(t.url, ["train", "grpo", "--config", config]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("rewards.0.function.export: ");
    expect(refused.stderr).toContain('exports nothing named "brevty"; its functions: brevity');
    expect(await t.db.select().from(runs)).toEqual([]);
  });
});
