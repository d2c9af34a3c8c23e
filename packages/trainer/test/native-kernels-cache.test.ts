/**
 * The native kernels are code the process loads from a cache directory: a directory or a file another
 * account could have written is never loaded from (a fresh process each, since a process loads the addon once).
 */
import { spawnSync } from "node:child_process";
import { chownSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const here = path.dirname(fileURLToPath(import.meta.url));
const scratch = mkdtempSync(path.join(os.tmpdir(), "native-cache-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The addon file a fresh process loads with RLHF_NATIVE_CACHE=cache, or why none. */
function loadedFrom(cache: string): { file?: string; active: boolean; reason?: string } {
  const script = `
    const { initBackend } = await import(${JSON.stringify(path.join(here, "../src/backend.ts"))});
    const { nativeKernelsStatus } = await import(${JSON.stringify(path.join(here, "../src/native-kernels.ts"))});
    await initBackend("wasm");
    process.stdout.write(JSON.stringify(nativeKernelsStatus()));`;
  const tsx = path.join(here, "../node_modules/.bin/tsx");
  const out = spawnSync(tsx, ["--input-type=module", "-e", script], {
    env: { ...process.env, RLHF_NATIVE_CACHE: cache },
    encoding: "utf8",
    timeout: 120_000,
  });
  const last = out.stdout.trim().split("\n").at(-1) ?? "";
  if (!last.startsWith("{")) throw new Error(`no status: ${out.stderr}`);
  return JSON.parse(last);
}

describe("the native kernels' cache", () => {
  const isRoot = process.getuid?.() === 0;

  it("builds into a directory of this user's own, made private", () => {
    const mine = path.join(scratch, "mine");
    const status = loadedFrom(mine);
    if (!status.active) return expect(status.reason).toMatch(/g\+\+|headers|RLHF_NATIVE_KERNELS/); // no compiler here
    expect(path.dirname(status.file!)).toBe(mine);
  });

  it.runIf(isRoot)(
    "never loads from a directory another account owns, even with an addon planted in it",
    () => {
      const mine = path.join(scratch, "mine");
      const planted = path.join(scratch, "theirs");
      mkdirSync(planted, { mode: 0o755 });
      for (const f of readdirSync(mine)) copyFileSync(path.join(mine, f), path.join(planted, f));
      chownSync(planted, 65534, 65534);
      for (const f of readdirSync(planted)) chownSync(path.join(planted, f), 65534, 65534);
      const status = loadedFrom(planted);
      if (status.active) expect(path.dirname(status.file!)).not.toBe(planted);
    },
  );
});
