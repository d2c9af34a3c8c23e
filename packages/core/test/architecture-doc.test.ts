/**
 * docs/architecture.md tells a newcomer where each thing is defined ("Where is X defined", the folders
 * of core and the trainer). The test reads every path it names in backticks and fails on one that does not
 * exist, so a file moved or renamed without the page following shows up here.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const PAGE = path.join(ROOT, "docs/architecture.md");

/** `apps/<app>/messages/{en,zh}.json` → every app's en.json and zh.json; a glob is checked up to its folder. */
export function expand(spec: string): string[] {
  const braces = spec.match(/\{([^}]+)\}/);
  if (braces)
    return braces[1]!.split(",").flatMap((option) => expand(spec.replace(braces[0], option.trim())));
  if (spec.includes("<app>"))
    return ["dashboard", "labeler"].flatMap((app) => expand(spec.replace("<app>", app)));
  const wild = spec.search(/[*<]/);
  return [wild === -1 ? spec : spec.slice(0, spec.lastIndexOf("/", wild) + 1)];
}

/** The repository paths a page names in backticks; `src/…` in core's own table is core's. */
export function namedPaths(markdown: string): string[] {
  const spans = [...markdown.matchAll(/`([^`\s]+)`/g)].map((m) => m[1]!);
  return spans.flatMap((span) => {
    if (/^(packages|apps|docs|bench|e2e)\//.test(span)) return expand(span);
    if (span.startsWith("src/")) return expand(`packages/core/${span}`);
    return [];
  });
}

describe("docs/architecture.md", () => {
  it("names only paths that exist", () => {
    const paths = namedPaths(readFileSync(PAGE, "utf8"));
    expect(paths.length).toBeGreaterThan(20);
    expect(paths.filter((p) => !existsSync(path.join(ROOT, p)))).toEqual([]);
  });

  it("expands an app placeholder, braces and globs, and catches a missing file", () => {
    expect(expand("apps/<app>/messages/{en,zh}.json").sort()).toEqual([
      "apps/dashboard/messages/en.json",
      "apps/dashboard/messages/zh.json",
      "apps/labeler/messages/en.json",
      "apps/labeler/messages/zh.json",
    ]);
    expect(expand("packages/core/src/configs/<kind>.ts")).toEqual(["packages/core/src/configs/"]);
    expect(expand("apps/<app>/src/app/api/**/route.ts")[0]).toBe("apps/dashboard/src/app/api/");
    const named = namedPaths("see `src/queue/nowhere.ts` and `packages/core/src/env.ts`, not `coreEnv()`");
    expect(named).toEqual(["packages/core/src/queue/nowhere.ts", "packages/core/src/env.ts"]);
    expect(named.filter((p) => !existsSync(path.join(ROOT, p)))).toEqual([
      "packages/core/src/queue/nowhere.ts",
    ]);
  });
});
