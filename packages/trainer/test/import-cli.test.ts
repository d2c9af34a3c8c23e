/** `rlhf import`: files in, and the trainers' loaders read back exactly what the file said. */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { comparisonTasks, datasets } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPairs, loadPrompts, loadTexts } from "../src/data";
import { runCli } from "./fixtures/processes";

let t: TestDatabase;
let dir: string;
beforeAll(async () => {
  t = await createTestDatabase("rlhf_import_cli");
  dir = mkdtempSync(path.join(tmpdir(), "rlhf-import-"));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await t?.drop();
});

function file(name: string, lines: unknown[] | string): string {
  const target = path.join(dir, name);
  writeFileSync(
    target,
    typeof lines === "string"
      ? lines
      : `${lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n")}\n`,
  );
  return target;
}

describe("rlhf import", () => {
  it("imports a .txt corpus that loadTexts reads back, with the eval split held out", async () => {
    const docs = Array.from({ length: 10 }, (_, i) => `Document ${i}, line one.\nDocument ${i}, line two.`);
    const corpus = file("corpus.txt", `${docs.join("\n\n")}\n`);
    const run = await runCli(t.url, [
      "import",
      corpus,
      "--kind",
      "text",
      "--dataset",
      "my-corpus",
      "--eval-fraction",
      "0.2",
    ]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('imported 10 texts into text dataset "my-corpus" (new): 8 train, 2 eval\n');
    expect(await loadTexts(t, "my-corpus", "train")).toEqual(docs.filter((_, i) => i !== 4 && i !== 9));
    expect(await loadTexts(t, "my-corpus", "eval")).toEqual([docs[4], docs[9]]);
  });

  it("imports TRL conversational SFT rows that loadPairs reads back, appending a second file", async () => {
    const first = file("sft.jsonl", [
      {
        messages: [
          { role: "user", content: "Say hi." },
          { role: "assistant", content: "Hello!" },
        ],
      },
      { prompt: "Count to 3.", completion: "1, 2, 3" },
      { prompt: "Count to 3.", completion: "1, 2, 3" },
    ]);
    const run = await runCli(t.url, ["import", first, "--kind", "sft", "--dataset", "my-sft", "--json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      kind: "sft",
      created: true,
      imported: 2,
      train: 2,
      eval: 0,
      duplicates: 1,
      duplicateLines: [3],
    });
    const held = file("sft-eval.jsonl", [{ prompt: "Name a colour.", response: "Blue." }]);
    const second = await runCli(t.url, [
      "import",
      held,
      "--kind",
      "sft",
      "--dataset",
      "my-sft",
      "--split",
      "eval",
    ]);
    expect(second.stdout).toBe('imported 1 SFT pairs into sft dataset "my-sft": 0 train, 1 eval\n');
    expect(await loadPairs(t, "my-sft", "train")).toEqual([
      { prompt: "Say hi.", response: "Hello!" },
      { prompt: "Count to 3.", response: "1, 2, 3" },
    ]);
    expect(await loadPairs(t, "my-sft", "eval")).toEqual([{ prompt: "Name a colour.", response: "Blue." }]);
  });

  it("imports prompts that loadPrompts reads back, and preferences as comparison tasks", async () => {
    const prompts = file("prompts.jsonl", [
      { prompt: "Write a haiku." },
      { prompt: [{ role: "user", content: "Explain RLHF." }] },
    ]);
    expect(
      (await runCli(t.url, ["import", prompts, "--kind", "prompts", "--dataset", "my-prompts"])).code,
    ).toBe(0);
    expect(await loadPrompts(t, "my-prompts", "train")).toEqual(["Write a haiku.", "Explain RLHF."]);

    const prefs = file("prefs.jsonl", [{ prompt: "2 + 2?", chosen: "4", rejected: "5" }]);
    const run = await runCli(t.url, ["import", prefs, "--kind", "preferences", "--dataset", "my-prefs"]);
    expect(run.stdout).toBe('imported 1 comparison tasks into preferences dataset "my-prefs" (new)\n');
    const [dataset] = await t.db.select().from(datasets).where(eq(datasets.name, "my-prefs"));
    expect(dataset!.kind).toBe("preferences");
    const tasks = await t.db.select().from(comparisonTasks).where(eq(comparisonTasks.datasetId, dataset!.id));
    expect(tasks.map((task) => task.prompt)).toEqual(["2 + 2?"]);
  });

  it("names every bad line, stores nothing and exits 1; refuses another kind", async () => {
    const bad = file("bad.jsonl", [
      { prompt: "ok", response: "ok" },
      { prompt: "no answer" },
      "{oops",
      { messages: [] },
    ]);
    const run = await runCli(t.url, ["import", bad, "--kind", "sft", "--dataset", "bad-sft"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      "rlhf: nothing was imported; fix these lines:\n  line 2: response: must be a string\n",
    );
    expect(run.stderr).toMatch(/ {2}line 3: \(line\): not valid JSON/);
    expect(run.stderr).toContain("  line 4: messages: needs at least 2 messages");
    expect(await t.db.select().from(datasets).where(eq(datasets.name, "bad-sft"))).toEqual([]);

    const texts = file("texts.jsonl", [{ text: "a" }]);
    const wrong = await runCli(t.url, ["import", texts, "--kind", "text", "--dataset", "my-sft"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toBe(
      'rlhf: dataset: "my-sft" holds sft, not text; import into a new dataset name\n',
    );
  });

  it("reads a relative path from where pnpm was run, and refuses a missing file or one over the cap unread", async () => {
    file("relative.jsonl", [{ prompt: "From the user's directory." }]);
    const before = process.env.INIT_CWD;
    process.env.INIT_CWD = dir; // what pnpm sets to the directory `pnpm rlhf …` was typed in
    try {
      const run = await runCli(t.url, ["import", "relative.jsonl", "--kind", "prompts", "--dataset", "rel"]);
      expect(run.code).toBe(0);
      expect(await loadPrompts(t, "rel")).toEqual(["From the user's directory."]);
      const missing = await runCli(t.url, ["import", "nope.jsonl", "--kind", "prompts", "--dataset", "rel"]);
      expect(missing.stderr).toBe(`rlhf: ${path.join(dir, "nope.jsonl")}: no such file\n`);
    } finally {
      if (before === undefined) delete process.env.INIT_CWD;
      else process.env.INIT_CWD = before;
    }
    const huge = path.join(dir, "huge.jsonl");
    truncateSync(file("huge.jsonl", ""), 51 * 1024 * 1024); // sparse: no 51 MB written
    const refused = await runCli(t.url, ["import", huge, "--kind", "text", "--dataset", "huge"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("huge.jsonl is 51.0 MB; one import takes at most 50 MB: split it");
  });

  it("prints a progress line for a file of several thousand rows", async () => {
    const big = file(
      "big.jsonl",
      Array.from({ length: 2500 }, (_, i) => ({ text: `text number ${i}` })),
    );
    const run = await runCli(t.url, ["import", big, "--kind", "text", "--dataset", "big-corpus"]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(
      "big.jsonl: stored 1,000 / 2,500 rows\nbig.jsonl: stored 2,000 / 2,500 rows\nbig.jsonl: stored 2,500 / 2,500 rows\n",
    );
    expect(await loadTexts(t, "big-corpus", "train")).toHaveLength(2500);
  });
});
