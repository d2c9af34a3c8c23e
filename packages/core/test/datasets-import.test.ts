import { asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatasetImportError, importDataset, isEvalRow, MAX_IMPORT_BYTES } from "../src/datasets";
import { datasets, examples } from "../src/db/schema";
import { createTestDatabase, type TestDatabase } from "../src/db/testing";
import { ImportError } from "../src/formats";
import { importJsonl } from "../src/labeling";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase("rlhf_datasets_import");
});
afterAll(async () => {
  await t?.drop();
});

const jsonl = (...rows: unknown[]) =>
  rows.map((r) => (typeof r === "string" ? r : JSON.stringify(r))).join("\n");

async function rowsOf(name: string) {
  const [dataset] = await t.db.select().from(datasets).where(eq(datasets.name, name));
  if (!dataset) return undefined;
  const rows = await t.db
    .select({
      idx: examples.idx,
      split: examples.split,
      text: examples.text,
      prompt: examples.prompt,
      response: examples.response,
    })
    .from(examples)
    .where(eq(examples.datasetId, dataset.id))
    .orderBy(asc(examples.idx));
  return { dataset, rows };
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

describe("importDataset", () => {
  it("imports SFT lines in all three shapes as prompt + response, in file order, with an even eval split", async () => {
    const content = jsonl(
      { prompt: "Say hi.", response: "Hello!" },
      { prompt: "Count to 3.", completion: "1, 2, 3" },
      {
        prompt: [{ role: "user", content: "Name a colour." }],
        completion: [{ role: "assistant", content: "Blue." }],
      },
      "",
      {
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Capital of France?" },
          { role: "assistant", content: "Paris." },
        ],
      },
      ...Array.from({ length: 6 }, (_, i) => ({ prompt: `p${i}`, response: `r${i}` })),
    );
    const result = await importDataset(t.db, { kind: "sft", name: "sft-shapes", content, evalFraction: 0.2 });
    expect(result).toMatchObject({
      kind: "sft",
      created: true,
      imported: 10,
      train: 8,
      eval: 2,
      duplicates: 0,
    });
    const { rows } = (await rowsOf("sft-shapes"))!;
    expect(rows.slice(0, 4).map((r) => [r.prompt, r.response])).toEqual([
      ["Say hi.", "Hello!"],
      ["Count to 3.", "1, 2, 3"],
      ["Name a colour.", "Blue."],
      ["system: Be brief.\n\nuser: Capital of France?", "Paris."],
    ]);
    expect(rows.map((r) => r.idx)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Every fifth row is held out: rows 4 and 9.
    expect(rows.filter((r) => r.split === "eval").map((r) => r.idx)).toEqual([4, 9]);
    expect(rows.every((r) => r.text === null)).toBe(true);
  });

  it("reports every bad line with its field and reason, and stores nothing", async () => {
    const content = jsonl(
      { prompt: "fine", response: "fine" },
      { prompt: "no answer" },
      "{not json",
      { prompt: "", completion: "x" },
      {
        messages: [
          { role: "user", content: "hi" },
          { role: "user", content: "again" },
        ],
      },
      { prompt: "nul", response: "a\u0000b" },
      [1, 2],
      { prompt: 7, response: "x" },
    );
    const error = await failure(importDataset(t.db, { kind: "sft", name: "sft-bad", content }));
    expect(error).toBeInstanceOf(ImportError);
    const problems = (error as ImportError).problems.map((p) => `line ${p.line}: ${p.field}: ${p.message}`);
    expect(problems).toEqual([
      "line 2: response: must be a string",
      expect.stringMatching(/^line 3: \(line\): not valid JSON/),
      "line 4: prompt: must not be empty",
      "line 5: messages.1.role: the last message must be the assistant's (the response to learn)",
      "line 6: response: contains a NUL character (\\u0000), which cannot be stored",
      "line 7: (line): must be a JSON object",
      "line 8: prompt: must be a string",
    ]);
    expect(error.message).toContain("nothing was imported");
    expect(await rowsOf("sft-bad")).toBeUndefined();
  });

  it("appends to a dataset of the same kind after its last row, and refuses another kind", async () => {
    await importDataset(t.db, {
      kind: "prompts",
      name: "prompts-append",
      content: jsonl({ prompt: "a" }, { prompt: "b" }),
    });
    const again = await importDataset(t.db, {
      kind: "prompts",
      name: "prompts-append",
      content: jsonl({ prompt: [{ role: "user", content: "c" }] }, { prompt: "d", completion: "ignored" }),
      split: "eval",
    });
    expect(again).toMatchObject({ created: false, imported: 2, train: 0, eval: 2 });
    const { rows } = (await rowsOf("prompts-append"))!;
    expect(rows.map((r) => [r.idx, r.split, r.prompt, r.response])).toEqual([
      [0, "train", "a", null],
      [1, "train", "b", null],
      [2, "eval", "c", null],
      [3, "eval", "d", null],
    ]);

    const wrongKind = await failure(
      importDataset(t.db, { kind: "text", name: "prompts-append", content: jsonl({ text: "t" }) }),
    );
    expect(wrongKind).toBeInstanceOf(DatasetImportError);
    expect(wrongKind.message).toBe(
      'dataset: "prompts-append" holds prompts, not text; import into a new dataset name',
    );
    await importJsonl(t.db, {
      dataset: "prefs-not-sft",
      text: jsonl({ prompt: "q", responses: ["a", "b"] }),
      seed: 1,
    });
    await expect(
      importDataset(t.db, {
        kind: "sft",
        name: "prefs-not-sft",
        content: jsonl({ prompt: "q", response: "a" }),
      }),
    ).rejects.toThrow('"prefs-not-sft" holds preferences, not sft');
    expect((await rowsOf("prompts-append"))!.rows).toHaveLength(4);
  });

  it("drops lines repeating an earlier line and says which", async () => {
    const result = await importDataset(t.db, {
      kind: "text",
      name: "text-dups",
      content: jsonl(
        { text: "one" },
        { text: "two" },
        { text: "one" },
        "",
        { text: "two" },
        { text: "three" },
      ),
    });
    expect(result).toMatchObject({ imported: 3, duplicates: 2, duplicateLines: [3, 5] });
    expect((await rowsOf("text-dups"))!.rows.map((r) => r.text)).toEqual(["one", "two", "three"]);
  });

  it("reads a .txt corpus as one document per blank-line-separated block", async () => {
    const content = "First document,\nits second line.\n\n\nSecond document.\r\n\r\nThird   \n";
    const result = await importDataset(t.db, { kind: "text", name: "text-txt", content, format: "txt" });
    expect(result).toMatchObject({ imported: 3, train: 3, eval: 0 });
    expect((await rowsOf("text-txt"))!.rows.map((r) => r.text)).toEqual([
      "First document,\nits second line.",
      "Second document.",
      "Third",
    ]);
    await expect(
      importDataset(t.db, { kind: "sft", name: "sft-txt", content: "a\n\nb", format: "txt" }),
    ).rejects.toThrow("a .txt file holds a text corpus; sft files are JSONL");
  });

  it("refuses a file over the size cap, an empty file, a bad name or eval fraction, storing nothing", async () => {
    const big = jsonl({ text: "x".repeat(MAX_IMPORT_BYTES) });
    await expect(importDataset(t.db, { kind: "text", name: "too-big", content: big })).rejects.toThrow(
      /^the file is 50\.0 MB; one import takes at most 50 MB: split it/,
    );
    await expect(importDataset(t.db, { kind: "text", name: "empty", content: "\n\n" })).rejects.toThrow(
      "line 1: (file): the file has no rows",
    );
    await expect(importDataset(t.db, { kind: "text", name: "has space", content: "{}" })).rejects.toThrow(
      "dataset: use 1 to 100 letters",
    );
    await expect(
      importDataset(t.db, { kind: "text", name: "frac", content: jsonl({ text: "a" }), evalFraction: 1 }),
    ).rejects.toThrow("eval fraction: must be at least 0 and below 1 (got 1)");
    const names = (await t.db.select({ name: datasets.name }).from(datasets)).map((d) => d.name);
    for (const name of ["too-big", "empty", "has space", "frac"]) expect(names).not.toContain(name);
  });

  it("rolls back the new dataset and the chunks already stored when a later chunk fails", async () => {
    // A failure the line checks cannot foresee (here a trigger refusing one row, as a full disk or a
    // dropped connection would refuse it) must leave no dataset and no rows: one transaction.
    await t.pool.query(`create function refuse_boom() returns trigger language plpgsql as $$
      begin if new.text = 'boom' then raise exception 'refused by the test trigger'; end if; return new; end $$`);
    await t.pool.query(
      "create trigger refuse_boom before insert on examples for each row execute function refuse_boom()",
    );
    try {
      const rows = Array.from({ length: 1500 }, (_, i) => ({ text: i === 1400 ? "boom" : `doc ${i}` }));
      const stored: number[] = [];
      await expect(
        importDataset(t.db, {
          kind: "text",
          name: "tx-whole",
          content: jsonl(...rows),
          onProgress: (n) => stored.push(n),
        }),
      ).rejects.toThrow();
      expect(stored).toEqual([1000]); // the first chunk went in before the failure...
      expect(await rowsOf("tx-whole")).toBeUndefined(); // ...and was rolled back with the dataset
    } finally {
      await t.pool.query("drop trigger refuse_boom on examples; drop function refuse_boom()");
    }
  });
});

describe("isEvalRow", () => {
  it("holds out floor(n · f) rows spread through the file", () => {
    const held = (n: number, f: number) =>
      Array.from({ length: n }, (_, i) => i).filter((i) => isEvalRow(i, f));
    expect(held(10, 0.1)).toEqual([9]);
    expect(held(20, 0.25)).toEqual([3, 7, 11, 15, 19]);
    expect(held(1000, 0.05)).toHaveLength(50);
    expect(held(5, 0.1)).toEqual([]);
  });
});
