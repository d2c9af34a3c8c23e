/**
 * Dataset names in any language: letters and digits of every script (电影评论-2026) and . _ - : @, refused
 * with the rule and what is wrong with the value as written (a slash, a control character, a space, a path,
 * too long); a Chinese name imported, named in a training config and exported on real PostgreSQL.
 */
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJobConfig } from "../src/configs";
import { DatasetImportError, importDataset } from "../src/datasets";
import { datasets, examples } from "../src/db/schema";
import { createTestDatabase, type TestDatabase } from "../src/db/testing";
import { DATASET_NAME_RULE, datasetNameProblem, messageText } from "../src/formats";
import { exportPreferences, importJsonl } from "../src/labeling";

const NAME = "电影评论-2026";
const rule = DATASET_NAME_RULE.replace(/[.()]/g, "\\$&");

describe("datasetNameProblem", () => {
  it("accepts letters and digits of any script with . _ - : @, up to 100 characters", () => {
    for (const name of [
      NAME,
      "demo-prompts",
      "données_v2",
      "हिंदी-समीक्षा", // Devanagari: letters and combining vowel signs
      "レビュー.2026:ja@v1",
      "отзывы_٢٠٢٦", // Arabic-Indic digits
      "a..b",
      "字".repeat(100), // characters, not bytes (300 in UTF-8)
      "𠀀".repeat(100), // beyond the BMP: 200 UTF-16 units, still 100 characters
    ]) {
      expect(datasetNameProblem(name), name).toBeUndefined();
    }
  });

  it("refuses what is unsafe, saying the rule and what is wrong with the value as written", () => {
    const cases: [string, RegExp][] = [
      ["电影/评论", /; "电影\/评论" has "\/"$/],
      ["a\\b", /; "a\\\\b" has "\\\\"$/],
      ["评论\u0007", /; "评论\\u0007" has a control character \(U\+0007\)$/],
      ["a\u200bb", /; "a\u200bb" has a control character \(U\+200B\)$/], // zero-width space, invisible
      [" 评论", /; " 评论" has a space$/],
      ["评论 2026", /; "评论 2026" has a space$/],
      ["评论\u3000", /; "评论\u3000" has a space$/], // the ideographic space
      ["..", /; "\.\." is a path, not a name$/],
      [".", /; "\." is a path, not a name$/],
      ["", /; it is empty$/],
      ["评".repeat(101), /; "评{101}" is 101 characters$/],
      ["a#b", /; "a#b" has "#"$/],
      ["😀", /; "😀" has "😀"$/],
    ];
    for (const [name, why] of cases) {
      const problem = datasetNameProblem(name);
      expect(problem, JSON.stringify(name)).toMatch(new RegExp(`^${rule}${why.source}`, "su"));
    }
  });

  it("a refusal keeps its code for pages in other languages, the value in the English text", () => {
    const text = messageText(`dataset: ${datasetNameProblem("电影/评论")}`);
    expect(text).toMatchObject({
      code: "fieldProblem",
      params: { field: "dataset", problem: { code: "datasetName" } },
    });
    expect(text.fallback).toContain('"电影/评论" has "/"');
  });
});

describe("a Chinese dataset name on PostgreSQL", () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase("rlhf_dataset_names");
  });
  afterAll(async () => {
    await t?.drop();
  });

  it("imports SFT pairs under it, and a training config names it", async () => {
    const content = [
      { prompt: "这部电影怎么样？", response: "很好看。" },
      { prompt: "推荐一部电影。", response: "《霸王别姬》。" },
    ]
      .map((r) => JSON.stringify(r))
      .join("\n");
    const result = await importDataset(t.db, { kind: "sft", name: ` ${NAME} `, content });
    expect(result).toMatchObject({ created: true });
    const [row] = await t.db.select().from(datasets).where(eq(datasets.name, NAME));
    expect(row?.kind).toBe("sft");
    const stored = await t.db.select().from(examples).where(eq(examples.datasetId, row!.id));
    expect(stored.map((e) => e.response).sort()).toEqual(["《霸王别姬》。", "很好看。"]);
    const config = parseJobConfig("sft", { init: "gpt2", dataset: NAME }, { strict: true });
    expect(config.dataset).toBe(NAME);
  });

  it("a generate run, which creates its dataset, takes a Chinese name and refuses one no import would take", () => {
    const generate = (dataset: string) => parseJobConfig("generate", { checkpoint: "run:x", dataset });
    expect(generate(NAME).dataset).toBe(NAME);
    expect(() => generate("电影/评论")).toThrow(
      /^invalid generate config:\n {2}dataset: use 1 to 100 letters.*; "电影\/评论" has "\/"$/,
    );
    // A reference to an existing dataset is looked up as written (one an older release named still works).
    expect(parseJobConfig("pretrain", { dataset: "an old name" }).dataset).toBe("an old name");
  });

  it("refuses an unsafe name in both imports with the field and the value", async () => {
    const error = await importDataset(t.db, { kind: "sft", name: "电影/评论", content: "{}" }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DatasetImportError);
    expect((error as Error).message).toMatch(/^dataset: use 1 to 100 .*; "电影\/评论" has "\/"$/);
    await expect(
      importJsonl(t.db, { dataset: "..", text: JSON.stringify({ prompt: "p", responses: ["a", "b"] }) }),
    ).rejects.toThrow(/^dataset: use 1 to 100 .*; "\.\." is a path, not a name$/);
    expect(await t.db.select().from(datasets).where(eq(datasets.name, ".."))).toEqual([]);
  });

  it("imports comparison tasks under it, exports them, and the export imports back as the same tasks", async () => {
    const name = `${NAME}-偏好`;
    const tasks = [
      { prompt: "这部电影怎么样？", responses: ["很好看，演员很出色。", "不知道。"] },
      { prompt: "推荐一部电影。", responses: ["《霸王别姬》。", "电影。", "随便。"] },
    ];
    const imported = await importJsonl(t.db, {
      dataset: name,
      text: tasks.map((task) => JSON.stringify(task)).join("\n"),
    });
    expect(imported).toMatchObject({ created: true, imported: 2 });
    const exported = await exportPreferences(t.db, name, "rankings");
    const lines = exported
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { prompt: string; responses: { text: string }[] });
    // Tasks and responses as sets: the import shuffles the responses' positions.
    const shape = (rows: { prompt: string; responses: (string | { text: string })[] }[]) =>
      rows
        .map((r) => ({
          prompt: r.prompt,
          responses: r.responses.map((x) => (typeof x === "string" ? x : x.text)).sort(),
        }))
        .sort((a, b) => a.prompt.localeCompare(b.prompt));
    expect(shape(lines)).toEqual(shape(tasks));
    const again = await importJsonl(t.db, { dataset: `${NAME}-副本`, text: exported });
    expect(again).toMatchObject({ created: true, imported: 2 });
    const twice = await exportPreferences(t.db, `${NAME}-副本`, "rankings");
    expect(
      shape(
        twice
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line)),
      ),
    ).toEqual(shape(lines));
  });
});
