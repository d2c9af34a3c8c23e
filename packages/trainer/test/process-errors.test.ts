/**
 * An error nobody caught, after tfjs-backend-wasm started (its Emscripten module re-throws from process
 * listeners of its own, and Node then prints ~20 KB of its minified source): one readable line.
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { oneLine } from "../src/jobs/process-errors";
import { fixture } from "./fixtures/processes";

const TSX = createRequire(import.meta.url).resolve("tsx");
const run = (...args: string[]) =>
  spawnSync(process.execPath, ["--import", TSX, fixture("throw-after-wasm.ts"), ...args], {
    encoding: "utf8",
    timeout: 60_000,
  });

describe("process errors", () => {
  it("print one readable line and exit 1, never the wasm module's minified source", () => {
    const bare = run();
    // Without the handlers: the failure this guards against (if tfjs stops doing it, this says so).
    expect(bare.stderr.length).toBeGreaterThan(10_000);
    const guarded = run("guard");
    expect(guarded.status).toBe(1);
    expect(guarded.stderr).toBe("rlhf: boom after the backend started\n");
  });

  it("a server that keeps Node's own handling gets it back after starting the backend: a stack, no library source", () => {
    const kept = run("keep");
    expect(kept.status).toBe(1);
    expect(kept.stderr).toContain("Error: boom after the backend started");
    expect(kept.stderr.length).toBeLessThan(3000);
  });

  it("oneLine keeps the name and the first line, clipped", () => {
    expect(oneLine(new TypeError("bad\nsecond line"))).toBe("TypeError: bad");
    expect(oneLine("x".repeat(500), 20)).toBe(`${"x".repeat(19)}…`);
  });
});
