/**
 * Configuration is read in one place per package: core's and the trainer's settings in
 * packages/core/src/env.ts (validated), the web apps' in @rlhf/ui/env through each app's src/env.ts. The
 * test reads every source file of packages/ and apps/ and fails on a `process.env` anywhere else, but for
 * the few places listed below with the reason they may.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { childEnv, coreEnv } from "../src/env";

const ROOT = path.resolve(import.meta.dirname, "../../..");

/** Files that may name `process.env` in code, and why. */
const ALLOWED: Record<string, string> = {
  "packages/core/src/env.ts": "the core and trainer settings: the one place that reads them",
  "packages/ui/src/env.ts": "the web apps' settings (parseEnv), which each app's src/env.ts calls",
  "packages/core/src/auth/client-address.cjs":
    "preloaded with `node --require` into an app's server before any TypeScript loads: plain CommonJS",
  "packages/trainer/src/cli/start.ts":
    "passes its whole environment on to the apps and the worker it starts (child processes)",
  "apps/labeler/src/instrumentation.ts":
    "NEXT_RUNTIME, set by Next.js per runtime, is checked before anything Node-only is imported",
  "apps/dashboard/src/lib/serve-examples.ts": "the text of a code example shown to people, not a read",
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) return [];
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.(c|m)?[jt]sx?$/.test(entry.name) ? [full] : [];
  });
}

/** Lines of code (not comments) that name `process.env`. */
export function envReads(text: string): string[] {
  return text.split("\n").filter((line) => line.includes("process.env") && !/^\s*(\/\/|\/\*|\*)/.test(line));
}

describe("configuration", () => {
  it("is read from process.env only in the env modules (and the places allowed, with their reason)", () => {
    const roots = ["packages", "apps"].flatMap((top) =>
      readdirSync(path.join(ROOT, top), { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => path.join(ROOT, top, entry.name, "src")),
    );
    const files = roots.flatMap((root) => {
      try {
        return sourceFiles(root);
      } catch {
        return [];
      }
    });
    expect(files.length).toBeGreaterThan(100);
    const found = files
      .map((file) => path.relative(ROOT, file).split(path.sep).join("/"))
      .filter((file) => envReads(readFileSync(path.join(ROOT, file), "utf8")).length > 0);
    expect(found).toContain("packages/core/src/env.ts"); // the reader sees what it must see
    expect(found.filter((file) => !(file in ALLOWED))).toEqual([]);
  });

  it("skips comments, not code", () => {
    expect(
      envReads(" * the only place that reads `process.env`\n// process.env.X\nconst a = process.env.A;"),
    ).toEqual(["const a = process.env.A;"]);
  });

  it("validates the settings, an empty value meaning unset", () => {
    expect(coreEnv({ DATABASE_URL: "", RLHF_DB_PORT: "5433", RLHF_QUIET: "1" })).toMatchObject({
      DATABASE_URL: undefined,
      RLHF_DB_PORT: 5433,
      RLHF_QUIET: true,
    });
    expect(coreEnv({ RLHF_QUIET: "" }).RLHF_QUIET).toBe(false);
    expect(() => coreEnv({ RLHF_DB_PORT: "port" })).toThrow(/RLHF_DB_PORT/);
    expect(() => coreEnv({ RLHF_DB_MODE: "remote" })).toThrow(/RLHF_DB_MODE/);
    expect(() => coreEnv({ RLHF_OUTAGE_LIMIT_SECONDS: "-1" })).toThrow(/RLHF_OUTAGE_LIMIT_SECONDS/);
  });

  it("passes the whole environment on to a child, with what is added over it", () => {
    const env = childEnv({ LC_ALL: "C" });
    expect(env.LC_ALL).toBe("C");
    expect(env.PATH).toBeTruthy();
  });
});
