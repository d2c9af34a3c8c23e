/**
 * Checkpoints survive a process killed while it writes them. A real process saves into one directory
 * again and again (two models in turn) and is killed with SIGKILL at random moments: after every kill the
 * directory loads, whole, as one of the two models, and writing resumes over what the kill left. And the
 * states a kill can leave are recovered exactly: the previous version moved aside, temporary directories.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { loadCheckpoint } from "../src/checkpoint";
import { fixture } from "./fixtures/processes";

const TSX = createRequire(import.meta.url).resolve("tsx");
const root = mkdtempSync(path.join(os.tmpdir(), "checkpoint-durable-"));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(() => initBackend("wasm"));
afterAll(async () => {
  const { rm } = await import("node:fs/promises");
  await rm(root, { recursive: true, force: true });
});

/** The first values of the token embedding, which tell the two saved models apart. */
async function fingerprint(dir: string): Promise<{ step: number; head: number[] }> {
  const loaded = await loadCheckpoint(dir, { trainable: false, withOptimizer: false });
  try {
    const wte = loaded.model.params.get("wte.weight")!;
    return { step: loaded.trainerState!.step, head: [...(await wte.data())].slice(0, 4) };
  } finally {
    loaded.model.dispose();
  }
}

/** Start the saving loop; resolves once it has saved `after` more times, with the child and its output. */
function startSaving(dir: string) {
  const child = spawn(process.execPath, ["--import", TSX, fixture("save-loop.ts"), dir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let saves = 0;
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    saves += chunk.split("\n").filter((line) => line.startsWith("saved ")).length;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { child, exited, saves: () => saves, stderr: () => stderr };
}

describe("a checkpoint written again and again while the writer is killed", () => {
  it("always loads whole, as one of the versions written", async () => {
    const dir = path.join(root, "loop", "step-000001");
    mkdirSync(path.dirname(dir), { recursive: true });
    const versions = new Map<number, string>(); // step parity → fingerprint seen
    for (let kill = 0; kill < 6; kill++) {
      const writer = startSaving(dir);
      // Let it save at least twice (a replace, not only a first write), then kill it at a random moment.
      const deadline = Date.now() + 60_000;
      while (writer.saves() < 2 && Date.now() < deadline) await sleep(10);
      expect(writer.saves(), writer.stderr()).toBeGreaterThanOrEqual(2);
      await sleep(Math.random() * 40);
      writer.child.kill("SIGKILL");
      await writer.exited;
      const { step, head } = await fingerprint(dir);
      // Every version of one parity is the same model: the directory never mixes two writes.
      const seen = versions.get(step % 2);
      if (seen) expect(JSON.stringify(head)).toBe(seen);
      else versions.set(step % 2, JSON.stringify(head));
    }
    expect(versions.size).toBe(2);
    expect([...versions.values()][0]).not.toBe([...versions.values()][1]);
    // What killed writers left is gone after the next load or save.
    const leftovers = readdirSync(path.dirname(dir)).filter((name) => name !== path.basename(dir));
    expect(leftovers).toEqual([]);
  }, 600_000);
});

describe("the states a kill leaves behind", () => {
  /** A whole checkpoint in `dir`, written by the loop (one save), and the loop stopped. */
  async function oneCheckpoint(dir: string) {
    const writer = startSaving(dir);
    while (writer.saves() < 1) await sleep(10);
    writer.child.kill("SIGKILL");
    await writer.exited;
  }

  it("puts back the previous version when the kill came between moving it aside and the rename", async () => {
    const dir = path.join(root, "aside", "step-000001");
    mkdirSync(path.dirname(dir), { recursive: true });
    await oneCheckpoint(dir);
    const before = await fingerprint(dir);
    const deadPid = 2 ** 22 + 17; // above Linux's default pid_max: no such process
    renameSync(dir, `${dir}.old-${deadPid}`);
    mkdirSync(`${dir}.tmp-${deadPid}`); // the half-written new version
    expect(await fingerprint(dir)).toEqual(before);
    expect(readdirSync(path.dirname(dir))).toEqual([path.basename(dir)]);
  }, 120_000);

  it("leaves alone what a writer still running is writing", async () => {
    const dir = path.join(root, "live", "step-000001");
    mkdirSync(path.dirname(dir), { recursive: true });
    await oneCheckpoint(dir);
    const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"]);
    try {
      mkdirSync(`${dir}.tmp-${sleeper.pid}`);
      await fingerprint(dir);
      expect(existsSync(`${dir}.tmp-${sleeper.pid}`)).toBe(true);
    } finally {
      sleeper.kill("SIGKILL");
    }
  }, 120_000);
});
