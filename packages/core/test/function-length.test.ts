/**
 * No function longer than 150 lines (issue 15: "the big components read top to bottom"). The test parses
 * every .ts/.tsx file under apps/* /src and packages/* /src with the TypeScript compiler and fails on any
 * function — declaration, arrow, method, constructor, accessor or function expression — longer than
 * MAX_LINES, unless the comment block right above it holds `// long: <reason>` (a generated table, a state
 * machine). A function's lines count from the line it starts on to the line it ends on, its body included.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const MAX_LINES = 150;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) return [];
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts") ? [full] : [];
  });
}

/** Every `<workspace>/src` folder under apps/ and packages/. */
function sourceRoots(): string[] {
  return ["apps", "packages"].flatMap((group) =>
    readdirSync(path.join(ROOT, group), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => path.join(ROOT, group, entry.name, "src"))
      .filter((dir) => {
        try {
          return readdirSync(dir).length > 0;
        } catch {
          return false;
        }
      }),
  );
}

type LongFunction = { name: string; line: number; lines: number };

function functionName(node: ts.FunctionLikeDeclaration): string {
  if (node.name) return node.name.getText();
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))
    return parent.name.getText();
  if (ts.isConstructorDeclaration(node)) return "constructor";
  return "<anonymous>";
}

/** Whether the comment lines right above `line` (0-based) hold `// long: <reason>`. */
function excused(lines: string[], line: number): boolean {
  for (let i = line - 1; i >= 0; i--) {
    const text = (lines[i] ?? "").trim();
    if (/^\/\/\s*long:\s*\S/.test(text)) return true;
    if (!/^(\/\/|\/\*|\*)/.test(text)) return false;
  }
  return false;
}

/** The functions of one file longer than `limit` lines without a `// long:` comment. */
export function longFunctions(fileName: string, text: string, limit = MAX_LINES): LongFunction[] {
  const lines = text.split("\n");
  if (lines.length <= limit) return []; // nothing in it can be longer than the file
  const kind = fileName.endsWith(".tsx") ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, kind);
  const lineOf = (position: number) => source.getLineAndCharacterOfPosition(position).line;
  const found: LongFunction[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = lineOf(node.getStart(source));
      const length = lineOf(node.getEnd()) - start + 1;
      if (length > limit) {
        // The comment stands above the statement the function starts on (`export const X = () => {`).
        let outer: ts.Node = node;
        while (
          outer.parent &&
          !ts.isSourceFile(outer.parent) &&
          lineOf(outer.parent.getStart(source)) === start
        )
          outer = outer.parent;
        if (!excused(lines, lineOf(outer.getStart(source))))
          found.push({
            name: functionName(node as ts.FunctionLikeDeclaration),
            line: start + 1,
            lines: length,
          });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe("function length", () => {
  it(`finds no function longer than ${MAX_LINES} lines in apps/*/src and packages/*/src`, () => {
    const files = sourceRoots().flatMap(sourceFiles);
    expect(files.length).toBeGreaterThan(100);
    const long = files.flatMap((file) =>
      longFunctions(file, readFileSync(file, "utf8")).map(
        (f) => `${path.relative(ROOT, file)}:${f.line} ${f.name} (${f.lines} lines)`,
      ),
    );
    expect(long).toEqual([]);
  });

  const body = (n: number) => Array.from({ length: n }, (_, i) => `  total += ${i};`).join("\n");

  it("fails on a long function of each kind, and counts its lines", () => {
    const text = [
      `export function declared() {\n  let total = 0;\n${body(150)}\n  return total;\n}`,
      `export const arrow = () => {\n  let total = 0;\n${body(150)}\n};`,
      `class Box {\n  method() {\n    let total = 0;\n${body(150)}\n  }\n}`,
      `const view = { render: function () {\n  let total = 0;\n${body(150)}\n} };`,
      `export function short() {\n  let total = 0;\n${body(147)}\n}`,
    ].join("\n\n");
    const found = longFunctions("fake.tsx", text);
    expect(found.map((f) => f.name)).toEqual(["declared", "arrow", "method", "render"]);
    expect(found[0]).toEqual({ name: "declared", line: 1, lines: 154 });
  });

  it("lets a function through when the comment above says why it is long", () => {
    const text = [
      "/** A state machine, one case a state. */",
      "// long: one case a state, read as a table",
      `export const machine = (state: number) => {\n  let total = 0;\n${body(160)}\n};`,
      "",
      "// a plain comment is no excuse",
      `function other() {\n  let total = 0;\n${body(160)}\n}`,
    ].join("\n");
    expect(longFunctions("fake.ts", text).map((f) => f.name)).toEqual(["other"]);
  });
});
