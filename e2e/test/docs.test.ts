/**
 * The guides, kept true: every shell block in docs/ and the README runs here — in a scratch directory of
 * the checkout, on a test database, with the files the guide has you create — or says, in a marker on the
 * line before its fence, why it does not (docs/development.md, "Shell blocks in the docs"):
 *
 *   <!-- doc-test: not run: needs a GPU -->
 *   <!-- doc-test: covered by e2e/test/loop.test.ts -->
 *
 * A block with neither that stops working fails `pnpm test`, naming the page and line.
 *
 * The Chinese pages (docs/zh/) translate English ones and are kept in step with them here: every heading of
 * the English page has its translation, marked with the English text on the line before it
 * (`<!-- en: Quick start -->`), and their shell blocks are the English page's, command for command — so
 * they are checked, not run a second time.
 */
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { seedDemo } from "@rlhf/core/demo";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

interface Block {
  page: string;
  line: number;
  code: string;
  /** From the marker: why it is not run here, or which test runs it. */
  notRun?: string;
  coveredBy?: string;
}

const SHELL = /^```(sh|bash|shell|console)\s*$/;
const MARKER = /^<!--\s*doc-test:\s*(not run|covered by):?\s*(.+?)\s*-->$/;
/** A command in an untagged block: it should be tagged sh (and so run or be marked). */
const LOOKS_LIKE_COMMAND = /^\s*(\$ )?(pnpm|rlhf|curl|npm|npx|node) /;

function pages(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory()
        ? walk(path.join(dir, entry.name))
        : entry.name.endsWith(".md")
          ? [path.join(dir, entry.name)]
          : [],
    );
  return ["README.md", ...walk(path.join(root, "docs")).map((p) => path.relative(root, p))];
}

/** Every fenced block of a page: shell ones as blocks, untagged ones that hold commands as problems. */
function parse(page: string): { blocks: Block[]; problems: string[] } {
  const lines = readFileSync(path.join(root, page), "utf8").split("\n");
  const blocks: Block[] = [];
  const problems: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^\s*```(\S*)/.exec(lines[i]!);
    if (!fence) continue;
    let end = i + 1;
    while (end < lines.length && !lines[end]!.trim().startsWith("```")) end++;
    const body = lines.slice(i + 1, end).map((l) => l.trim());
    if (SHELL.test(lines[i]!.trim())) {
      let before = i - 1;
      while (before >= 0 && lines[before]!.trim() === "") before--;
      const marker = before >= 0 ? MARKER.exec(lines[before]!.trim()) : null;
      blocks.push({
        page,
        line: i + 1,
        code: body.join("\n"),
        notRun: marker?.[1] === "not run" ? marker[2] : undefined,
        coveredBy: marker?.[1] === "covered by" ? marker[2] : undefined,
      });
    } else if (fence[1] === "" && LOOKS_LIKE_COMMAND.test(body[0] ?? "")) {
      problems.push(`${page}:${i + 1}: an untagged block that starts with a command: fence it as \`\`\`sh`);
    }
    i = end;
  }
  return { blocks, problems };
}

/** A Chinese page (docs/zh/X.md) and the English page it translates (docs/X.md; README.md for README.md). */
const TRANSLATIONS = "docs/zh/";
const englishOf = (page: string) =>
  page === `${TRANSLATIONS}README.md` ? "README.md" : `docs/${page.slice(TRANSLATIONS.length)}`;

const all = pages()
  .filter((page) => !page.startsWith(TRANSLATIONS))
  .map(parse);
const blocks = all.flatMap((p) => p.blocks);

/** Files a guide has you write before its commands: the examples it shows, at a size that trains. */
const corpus = Array.from(
  { length: 120 },
  (_, i) =>
    `Document ${i}. The park was quiet in the morning; a dog ran after a ball and the sun came out.\nIt was a good day number ${i}, and everyone agreed.`,
).join("\n\n");
const sft = Array.from({ length: 24 }, (_, i) =>
  JSON.stringify({ prompt: `Say hi to ${i}.`, completion: `Hello ${i}! How can I help?` }),
).join("\n");
const FILES: Record<string, Record<string, string>> = {
  "docs/bring-your-own.md": {
    "corpus.txt": `${corpus}\n`,
    "sft.jsonl": `${sft}\n`,
    "prompts.jsonl":
      '{"prompt": "Write a haiku about the sea."}\n{"prompt": [{"role": "user", "content": "Explain what a reward model is in one sentence."}]}\n',
  },
};

describe("shell blocks in the docs", () => {
  it("each one runs here or is marked with the reason (or the test that runs it)", () => {
    const problems = all.flatMap((p) => p.problems);
    for (const block of blocks) {
      const where = `${block.page}:${block.line}`;
      if (block.coveredBy && !existsSync(path.join(root, block.coveredBy.split(/\s/)[0]!))) {
        problems.push(`${where}: covered by ${block.coveredBy}, which does not exist`);
      }
      // A placeholder cannot run: use a name the guide's own steps create, or mark the block.
      const commands = block.code.replace(/(^|\s)#.*$/gm, ""); // comments may say anything
      // `rlhf` is not on PATH after the install: the root script is `pnpm rlhf`.
      if (/(^|[|&;]\s*|^\$ |^(\w+=\S*\s+)+)rlhf\s/m.test(commands)) {
        problems.push(`${where}: a bare \`rlhf …\` command; write \`pnpm rlhf …\``);
      }
      if (!block.notRun && !block.coveredBy && /<[a-z][^>]*>|…|\bPORT\b/.test(commands)) {
        problems.push(`${where}: a placeholder (<…>, …, PORT) in a block that is run; mark it or fill it in`);
      }
    }
    expect(problems).toEqual([]);
    expect(blocks.length).toBeGreaterThan(10);
  });

  it("every screenshot a page shows is written by a browser test (so re-running the tests refreshes it)", () => {
    const tests = ["apps/dashboard/test", "apps/labeler/test", "e2e/test"].flatMap((dir) =>
      readdirSync(path.join(root, dir))
        .filter((f) => f.endsWith(".test.ts"))
        .map((f) => readFileSync(path.join(root, dir, f), "utf8")),
    );
    const written = (image: string) => {
      const name = image.replace(/\.png$/, "");
      // Written as a full name, or through a test's shot(page, "<name without the app prefix>") helper.
      const short = name.replace(/^(dashboard|labeler|loop)-/, "");
      return tests.some(
        (source) =>
          source.includes(`"${name}.png"`) ||
          source.includes(`shot(page, "${short}")`) ||
          source.includes(`shot(adminPage, "${short}")`),
      );
    };
    const shown = pages().flatMap((page) =>
      [
        ...readFileSync(path.join(root, page), "utf8").matchAll(/\]\((?:\.\.\/)*images\/([\w.-]+\.png)\)/g),
      ].map((m) => ({ page, image: m[1]! })),
    );
    expect(shown.length).toBeGreaterThan(10);
    const problems = shown.flatMap(({ page, image }) => [
      ...(existsSync(path.join(root, "docs/images", image))
        ? []
        : [`${page}: images/${image} does not exist`]),
      ...(written(image) ? [] : [`${page}: images/${image} is written by no browser test`]),
    ]);
    expect(problems).toEqual([]);
  });

  describe("the runnable ones, page by page, in order", () => {
    let t: TestDatabase;
    let scratch: string;
    beforeAll(async () => {
      t = await createTestDatabase("rlhf_docs");
      await seedDemo(t.db, { corpusSize: 60, sftSize: 20 });
      // Inside the checkout (its ignored tmp/), where a person types `pnpm rlhf`.
      mkdirSync(path.join(root, "tmp"), { recursive: true });
      scratch = mkdtempSync(path.join(root, "tmp", "docs-"));
    });
    afterAll(async () => {
      if (scratch) rmSync(scratch, { recursive: true, force: true });
      await t?.drop();
    });

    const runnable = blocks.filter((b) => !b.notRun && !b.coveredBy);
    for (const page of new Set(runnable.map((b) => b.page))) {
      const pageBlocks = runnable.filter((b) => b.page === page);
      it(page, async () => {
        const dir = path.join(scratch, page.replace(/[/.]/g, "-"));
        mkdirSync(dir, { recursive: true });
        for (const [name, content] of Object.entries(FILES[page] ?? {}))
          writeFileSync(path.join(dir, name), content);
        for (const block of pageBlocks) {
          const result = await sh(block.code, dir, {
            DATABASE_URL: t.url,
            RLHF_HOME: path.join(scratch, "home"),
            RLHF_QUIET: "1",
            PASSWORD: "a long enough password",
          });
          expect(
            result.code,
            `${block.page}:${block.line} failed:\n${block.code}\n---\n${result.output}`,
          ).toBe(0);
        }
      });
    }
  });
});

/** The headings of a page outside code fences, with the `<!-- en: … -->` marker on the line before, if any. */
function headings(page: string): { level: number; text: string; en?: string; line: number }[] {
  const lines = readFileSync(path.join(root, page), "utf8").split("\n");
  const out: { level: number; text: string; en?: string; line: number }[] = [];
  let fenced = false;
  for (const [i, line] of lines.entries()) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^(#{1,6})\s+(.+?)\s*$/.exec(line);
    if (!heading) continue;
    const marker = /^<!--\s*en:\s*(.+?)\s*-->$/.exec(lines[i - 1]?.trim() ?? "");
    out.push({ level: heading[1]!.length, text: heading[2]!, en: marker?.[1], line: i + 1 });
  }
  return out;
}

describe("the Chinese pages", () => {
  const chinese = pages().filter((page) => page.startsWith(TRANSLATIONS));

  it("translate README's first page, the quick start and the labeling guide", () => {
    expect(chinese.sort()).toEqual(
      expect.arrayContaining(["docs/zh/README.md", "docs/zh/labeling.md", "docs/zh/quick-start.md"]),
    );
  });

  for (const page of chinese) {
    it(`${page} has every heading of ${englishOf(page)}, in order, and the same commands`, () => {
      const english = englishOf(page);
      expect(
        existsSync(path.join(root, english)),
        `${page} translates ${english}, which does not exist`,
      ).toBe(true);
      const want = headings(english).map((h) => `${"#".repeat(h.level)} ${h.text}`);
      const have = headings(page).map(
        (h) =>
          `${"#".repeat(h.level)} ${h.en ?? `(no <!-- en: … --> marker before line ${h.line}: ${h.text})`}`,
      );
      expect(
        have,
        `${page}: the headings of ${english}, each as <!-- en: … --> before its translation`,
      ).toEqual(want);
      const commands = (p: string) => parse(p).blocks.map((b) => b.code);
      expect(commands(page), `${page}: the shell blocks of ${english}, unchanged`).toEqual(commands(english));
    });
  }
});

/** `bash -e -o pipefail -c code` in `cwd`; exit code and everything it printed. */
function sh(
  code: string,
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("bash", ["-e", "-o", "pipefail", "-c", code], {
      cwd,
      env: { ...process.env, ...env, INIT_CWD: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.once("exit", (exitCode) => {
      clearTimeout(timer);
      resolve({ code: exitCode, output });
    });
  });
}
