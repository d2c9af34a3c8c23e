/**
 * Server messages as codes: an import's bad lines, a person's form and a database outage carry a code and
 * their data beside the English message (which stays as the CLI and API clients read it), so a page can say
 * them in its own language; words without a code fall back to the English.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { UserError } from "../src/auth/users";
import { DatasetImportError } from "../src/datasets/import";
import { ImportError, parseJsonl } from "../src/formats";
import { taskImportLineSchema } from "../src/labeling/data-io";
import { LabelingError } from "../src/labeling/errors";
import { expectationText, messageText, serverTextOf, zodText } from "../src/server-text";

describe("server text", () => {
  it("gives each bad import line its line, field and expectation as a code, the message unchanged", () => {
    const file = [
      JSON.stringify({ prompt: "ok", responses: ["a", "b"] }),
      JSON.stringify({ prompt: "one", responses: ["lonely"] }),
      JSON.stringify({ prompt: "", responses: ["a", "b"] }),
      "{nope",
      JSON.stringify({ prompt: "p", responses: ["a", "b"], gold: [[0]] }),
    ].join("\n");
    let error: unknown;
    try {
      parseJsonl(file, taskImportLineSchema);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ImportError);
    const importError = error as ImportError;
    expect(importError.message).toContain("line 2: responses: needs at least 2 responses to compare");
    expect(importError.text.code).toBe("importFailed");
    const lines = importError.text.lines ?? [];
    expect(lines.map((l) => l.code)).toEqual(["importLine", "importLine", "importLine", "importLine"]);
    expect(lines[0]!.params).toEqual({
      line: 2,
      field: "responses",
      expected: {
        code: "expectAtLeastResponses",
        params: { min: 2 },
        fallback: "needs at least 2 responses to compare",
      },
    });
    expect(lines[1]!.params).toMatchObject({
      line: 3,
      field: "prompt",
      expected: { code: "expectNotEmpty" },
    });
    expect(lines[2]!.params).toMatchObject({ line: 4, field: "(line)", expected: { code: "expectJson" } });
    expect(lines[3]!.params).toMatchObject({
      line: 5,
      field: "gold",
      expected: { code: "expectGoldEach", params: { last: 1 } },
    });
  });

  it("says when more than 20 lines are bad", () => {
    const problems = Array.from({ length: 23 }, (_, i) => ({ line: i + 1, field: "prompt", message: "x" }));
    const lines = new ImportError(problems).text.lines ?? [];
    expect(lines).toHaveLength(21);
    expect(lines.at(-1)).toEqual({ code: "importMore", params: { count: 3 } });
    // Words with no code stay English.
    expect(lines[0]!.params?.expected).toEqual({ code: "verbatim", params: { message: "x" }, fallback: "x" });
  });

  it("reads a field and its problem from people's and labeling errors, and finds the text through causes", () => {
    const taken = new UserError("email: ann@example.com already has an account", "email");
    expect(taken.message).toBe("email: ann@example.com already has an account");
    expect(taken.text).toEqual({
      code: "fieldProblem",
      params: {
        field: "email",
        problem: {
          code: "emailTaken",
          params: { email: "ann@example.com" },
          fallback: "ann@example.com already has an account",
        },
      },
      fallback: "email: ann@example.com already has an account",
    });
    expect(messageText("the workbench needs at least one admin").code).toBe("lastAdmin");
    expect(new LabelingError("NOT_FOUND", "task 1 does not exist").text.code).toBe("verbatim");
    expect(
      new LabelingError("BAD_REQUEST", 'dataset: "prefs" holds preferences; this file holds prompts').text,
    ).toMatchObject({
      code: "fieldProblem",
      params: {
        field: "dataset",
        problem: {
          code: "datasetHoldsOtherFile",
          params: { name: "prefs", holds: "preferences", file: "prompts" },
        },
      },
    });
    const wrapped = new Error("outer", { cause: new Error("middle", { cause: taken }) });
    expect(serverTextOf(wrapped)).toBe(taken.text);
    expect(serverTextOf(new Error("plain"))).toBeUndefined();
    expect(expectationText("must be at least 8 characters")).toMatchObject({
      code: "expectMinChars",
      params: { min: 8 },
    });
  });

  it("reads launch refusals and dataset-import refusals, keeping names and references as written", () => {
    expect(
      expectationText("run:sft-1 matches no run (give a run id or name) (did you mean run:sft-2?)"),
    ).toMatchObject({
      code: "noSuchRunSuggest",
      params: { ref: "sft-1", suggestion: "run:sft-2" },
    });
    expect(expectationText("input run 演示-sft cancelled; it cannot feed a new run")).toMatchObject({
      code: "inputRunUnusable",
      params: { name: "演示-sft", status: "cancelled" },
    });
    expect(expectationText("run name must not be empty")).toMatchObject({
      code: "runName",
      params: { problem: { code: "expectNotEmpty" } },
    });
    const holds = new DatasetImportError(
      'dataset: "corpus" holds text, not sft; import into a new dataset name',
    );
    expect(holds.text).toMatchObject({
      code: "fieldProblem",
      params: {
        field: "dataset",
        problem: { code: "datasetHoldsOther", params: { name: "corpus", holds: "text", kind: "sft" } },
      },
    });
  });

  it("turns a zod input refusal into one line per field", () => {
    const result = z
      .object({
        password: z.string().min(8, "must be at least 8 characters"),
        name: z.string().min(1, "must not be empty"),
      })
      .safeParse({ password: "short", name: "" });
    expect(result.success).toBe(false);
    const text = zodText(result.error!.issues);
    expect(text.code).toBe("invalidInput");
    expect(
      text.lines?.map((l) => [l.params?.field, (l.params?.problem as { code: string } | undefined)?.code]),
    ).toEqual([
      ["password", "expectMinChars"],
      ["name", "expectNotEmpty"],
    ]);
  });
});
