/**
 * Core's folders depend on each other one way: no import loop between them (db ← auth ← trpc, say,
 * never trpc → auth → trpc). Reads every relative import of src/ (static, dynamic and re-exports) and
 * fails on any cycle of the graph of folders, naming it. A file at the top of src/ counts as a folder.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const SRC = path.resolve(import.meta.dirname, "../src");

/** The folder (first path segment under src/, or the file's own name) of a file of src/. */
function folderOf(file: string): string {
  const [first] = path.relative(SRC, file).split(path.sep);
  return first!.replace(/\.(c|m)?[jt]sx?$/, "");
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.(c|m)?[jt]sx?$/.test(entry.name) ? [full] : [];
  });
}

/** Relative import specifiers of a source file: `from "…"`, `import("…")`, `require("…")`. */
function relativeImports(text: string): string[] {
  const specifiers = [
    ...text.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*|^import\s+)["'](\.[^"']+)["']/gm),
  ];
  return specifiers.map((m) => m[1]!);
}

/** Folder → the folders it imports from (itself left out). */
function folderGraph(files: string[]): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of files) {
    const from = folderOf(file);
    const edges = graph.get(from) ?? new Set<string>();
    graph.set(from, edges);
    for (const specifier of relativeImports(readFileSync(file, "utf8"))) {
      const target = path.resolve(path.dirname(file), specifier);
      if (!target.startsWith(SRC + path.sep)) continue;
      const to = folderOf(target);
      if (to !== from) edges.add(to);
    }
  }
  return graph;
}

/** Every cycle of `graph`, each as the folders along it (first repeated at the end), found once. */
function cycles(graph: Map<string, Set<string>>): string[][] {
  const found = new Map<string, string[]>();
  const walk = (node: string, trail: string[]) => {
    const at = trail.indexOf(node);
    if (at >= 0) {
      const loop = trail.slice(at);
      const key = [...loop].sort().join(" ");
      if (!found.has(key)) found.set(key, [...loop, node]);
      return;
    }
    for (const next of graph.get(node) ?? []) walk(next, [...trail, node]);
  };
  for (const node of graph.keys()) walk(node, []);
  return [...found.values()];
}

describe("core's folders", () => {
  it("import each other without a loop", () => {
    const graph = folderGraph(sourceFiles(SRC));
    expect(graph.get("trpc")).toContain("auth"); // the reader sees the imports it must see
    expect(cycles(graph).map((loop) => loop.join(" → "))).toEqual([]);
  });

  it("would name a loop", () => {
    const graph = new Map([
      ["auth", new Set(["db", "trpc"])],
      ["trpc", new Set(["auth"])],
      ["db", new Set<string>()],
    ]);
    expect(cycles(graph)).toEqual([["auth", "trpc", "auth"]]);
    expect(
      relativeImports(`import { a } from "../trpc/route";\nexport * from "./x";\nawait import("../db")`),
    ).toEqual(["../trpc/route", "./x", "../db"]);
  });
});
