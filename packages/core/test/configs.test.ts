import { describe, expect, it } from "vitest";
import { ConfigError, jobConfigSchemas, parseJobConfig } from "../src/configs";
import { comparisonTaskLineSchema, ImportError, parseJsonl } from "../src/formats";

describe("job configs", () => {
  it("fill every default once, from the schema", () => {
    const config = parseJobConfig("pretrain", {});
    expect(config.maxSteps).toBe(300);
    expect(config.model).toEqual({ preset: "tiny" });
    expect(config.tokenizer.vocabSize).toBe(512);
    expect(config.backend).toBe("auto");
    expect(parseJobConfig("ppo", { policy: "run:sft", rewardModel: "run:rm" }).klCoef).toBe(0.05);
  });

  it("refuse an unknown key with its name and the closest known one (a typo must not launch with defaults)", () => {
    const issues = (input: unknown, kind: "pretrain" | "ppo" | "serve" = "pretrain") => {
      try {
        parseJobConfig(kind, input, { strict: true });
        return [];
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).issues;
      }
    };
    expect(issues({ learningRat: 3e-4 })).toEqual([
      { path: "learningRat", message: 'unknown key "learningRat"; did you mean "learningRate"?' },
    ]);
    expect(issues({ model: { nLayers: 2 } })).toEqual([
      { path: "model.nLayers", message: 'unknown key "nLayers"; did you mean "nLayer"?' },
    ]);
    expect(issues({ MAXSTEPS: 3 })[0]!.message).toMatch(/did you mean "maxSteps"/);
    expect(issues({ zzzzzzzz: 1 })[0]!.message).toMatch(
      /^unknown key "zzzzzzzz"; known keys here: .*maxSteps/,
    );
    expect(issues({ policy: "run:a", rewardModel: "run:b", klCoeff: 0.1 }, "ppo")[0]).toMatchObject({
      path: "klCoeff",
      message: expect.stringMatching(/did you mean "klCoef"/),
    });
    expect(issues({ checkpoint: "/x", maxChoice: 4 }, "serve")[0]!.message).toMatch(
      /did you mean "maxChoices"/,
    );
    // Known keys pass, and without `strict` (a stored config read again) unknown ones are still dropped.
    expect(issues({ learningRate: 3e-4, model: { nLayer: 2 } })).toEqual([]);
    expect(parseJobConfig("pretrain", { learningRat: 1 })).not.toHaveProperty("learningRat");
    for (const kind of Object.keys(jobConfigSchemas) as (keyof typeof jobConfigSchemas)[]) {
      expect(issues({ notAField: 1 }, kind as "pretrain")[0]?.path, kind).toBe("notAField");
    }
  });

  it("name the field and the problem of an invalid config", () => {
    expect(() => parseJobConfig("pretrain", { maxSteps: -3, model: { preset: "huge" } })).toThrow(
      ConfigError,
    );
    try {
      parseJobConfig("pretrain", { maxSteps: -3, model: { preset: "huge" } });
    } catch (error) {
      const paths = (error as ConfigError).issues.map((i) => i.path);
      expect(paths).toEqual(expect.arrayContaining(["maxSteps", "model.preset"]));
      expect((error as Error).message).toMatch(/maxSteps: .*>=1/);
    }
    expect(() => parseJobConfig("sft", {})).toThrow(/init/);
  });

  it("document every field (the dashboard form and the docs are generated from these)", () => {
    for (const [kind, schema] of Object.entries(jobConfigSchemas)) {
      for (const [field, fieldSchema] of Object.entries(schema.shape)) {
        expect((fieldSchema as { description?: string }).description, `${kind}.${field}`).toBeTruthy();
      }
    }
  });
});

describe("JSONL import", () => {
  it("returns every row when all lines are valid", () => {
    const rows = parseJsonl(
      '{"prompt":"Hi","responses":["a",{"text":"b","source":"gpt"}]}\n\n{"prompt":"Yo","responses":["c","d"]}\n',
      comparisonTaskLineSchema,
    );
    expect(rows).toHaveLength(2);
  });

  it("reports line, field and expectation, and returns nothing when one line is bad", () => {
    const text = '{"prompt":"Hi","responses":["a","b"]}\n{"prompt":"","responses":["a"]}\nnot json\n';
    expect(() => parseJsonl(text, comparisonTaskLineSchema)).toThrow(ImportError);
    try {
      parseJsonl(text, comparisonTaskLineSchema);
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toContain("line 2: prompt: must not be empty");
      expect(message).toContain("line 2: responses: needs at least 2 responses");
      expect(message).toContain("line 3: (line): not valid JSON");
    }
  });
});

describe("docs/reference/configs.md", () => {
  it("is what the schemas generate (run `pnpm docs:configs` after changing a config)", async () => {
    const { readFileSync } = await import("node:fs");
    const { renderConfigReference } = await import("../src/configs/reference");
    const committed = readFileSync(new URL("../../../docs/reference/configs.md", import.meta.url), "utf8");
    expect(committed).toBe(renderConfigReference());
  });
});
