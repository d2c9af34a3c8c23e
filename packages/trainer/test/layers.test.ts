/**
 * The trainer package's layers point one way: what trains and serves a model (`trainers/`, `train/`, `data/`,
 * `serve/`, `rl/`, `model/`) never imports the job runner (`jobs/`) that calls it. The job's context, its
 * input error and its summary live in `train/context.ts`, below the trainers.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../src", import.meta.url));
const LOWER_LAYERS = ["trainers", "train", "data", "serve", "rl", "model"];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(file);
    return /\.tsx?$/.test(entry.name) ? [file] : [];
  });
}

/** Every module a file names: static imports and re-exports, dynamic `import()`, `new URL(…)` workers. */
function importedModules(text: string): string[] {
  const patterns = [
    /\b(?:import|export)\b[^;"'`]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
    /\bnew URL\(\s*["']([^"']+)["']/g,
  ];
  return patterns.flatMap((pattern) => [...text.matchAll(pattern)].map((m) => m[1]!));
}

/** The files under the lower layers that import something under `jobs/`, with the import. */
function importsOfJobs(): string[] {
  const jobs = path.join(SRC, "jobs");
  return LOWER_LAYERS.flatMap((layer) =>
    sourceFiles(path.join(SRC, layer)).flatMap((file) =>
      importedModules(readFileSync(file, "utf8"))
        .filter((specifier) => specifier.startsWith("."))
        .filter((specifier) => {
          const target = path.resolve(path.dirname(file), specifier);
          return target === jobs || target.startsWith(`${jobs}${path.sep}`);
        })
        .map((specifier) => `${path.relative(SRC, file)} imports ${specifier}`),
    ),
  );
}

describe("layers of @rlhf/trainer", () => {
  it("exports only files that exist", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      exports: Record<string, string>;
    };
    expect(pkg.exports["."]).toBeDefined();
    const root = fileURLToPath(new URL("..", import.meta.url));
    const missing = Object.entries(pkg.exports).filter(([, file]) => !existsSync(path.join(root, file)));
    expect(missing).toEqual([]);
  });

  it("reads every kind of import", () => {
    const text = [
      'import { a } from "../jobs/a";',
      'import type {\n  B,\n} from "../jobs/b";',
      'export * from "../jobs/c";',
      'import "../jobs/d";',
      'const e = await import("../jobs/e");',
    ].join("\n");
    expect(importedModules(text)).toEqual(["../jobs/a", "../jobs/b", "../jobs/c", "../jobs/d", "../jobs/e"]);
  });

  it("is used by the benchmarks through its exports, as core is (no path into a package's sources)", () => {
    const bench = fileURLToPath(new URL("../../../bench", import.meta.url));
    const files = readdirSync(bench).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(5);
    const intoSources = files.flatMap((file) =>
      importedModules(readFileSync(path.join(bench, file), "utf8"))
        .filter((specifier) => specifier.startsWith("../"))
        .map((specifier) => `bench/${file} imports ${specifier}`),
    );
    expect(intoSources).toEqual([]);
  });

  it("nothing that trains or serves a model imports the job runner", () => {
    expect(sourceFiles(path.join(SRC, "trainers")).length).toBeGreaterThan(5);
    expect(importsOfJobs()).toEqual([]);
  });
});
