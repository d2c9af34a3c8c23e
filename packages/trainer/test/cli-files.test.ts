/**
 * Every file argument and option of `rlhf` means a path from the directory the command was typed in —
 * INIT_CWD when pnpm runs it from the workspace root — never from where the CLI happens to run.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { seedDemo } from "@rlhf/core/demo";
import { datasets, metrics, runs } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { configFromOptions } from "../src/cli/config-flags";
import { invokingDir } from "../src/cli/files";
import { buildProgram } from "../src/cli/program";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
let t: TestDatabase;
let typedIn: string;
const saved = { cwd: process.cwd(), env: { ...process.env } };

beforeAll(async () => {
  t = await createTestDatabase("rlhf_cli_files");
  await seedDemo(t.db, { corpusSize: 40, sftSize: 10 });
  // The ignored tmp/ of the checkout: a directory inside the workspace, as a person's would be.
  mkdirSync(path.join(root, "tmp"), { recursive: true });
  typedIn = mkdtempSync(path.join(root, "tmp", "cli-files-"));
  process.chdir(root); // where `pnpm rlhf` runs the CLI
  Object.assign(process.env, { INIT_CWD: typedIn, DATABASE_URL: t.url, RLHF_QUIET: "1" });
});
afterAll(async () => {
  process.chdir(saved.cwd);
  process.env = saved.env;
  rmSync(typedIn, { recursive: true, force: true });
  await t?.drop();
});

/** `rlhf <args>` in this process; what it printed. */
async function rlhf(...args: string[]): Promise<string> {
  let printed = "";
  const write = (chunk: unknown) => {
    printed += String(chunk);
    return true;
  };
  const out = vi.spyOn(process.stdout, "write").mockImplementation(write);
  const err = vi.spyOn(process.stderr, "write").mockImplementation(write);
  try {
    await buildProgram().exitOverride().parseAsync(args, { from: "user" });
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return printed;
}

const here = (name: string) => path.join(typedIn, name);
const write = (name: string, content: unknown) =>
  writeFileSync(here(name), typeof content === "string" ? content : JSON.stringify(content));

describe("relative paths on the rlhf command line", () => {
  it("the invoking directory is INIT_CWD when pnpm runs us in the workspace, else the working directory", () => {
    expect(invokingDir({ INIT_CWD: "/somewhere" }, root)).toBe("/somewhere");
    expect(invokingDir({ INIT_CWD: "/somewhere" }, os.tmpdir())).toBe(os.tmpdir()); // a stale INIT_CWD
    expect(invokingDir({}, root)).toBe(root);
  });

  it("import <file>", async () => {
    write("corpus.txt", "One little document.\n\nAnother little document.\n");
    await rlhf("import", "corpus.txt", "--kind", "text", "--dataset", "typed-corpus");
    const [row] = await t.db.select().from(datasets).where(eq(datasets.name, "typed-corpus"));
    expect(row).toBeTruthy();
  });

  it("export preferences --out", async () => {
    write("pairs.jsonl", '{"prompt": "Say hi.", "chosen": "Hi!", "rejected": "Go away."}\n');
    await rlhf("import", "pairs.jsonl", "--kind", "preferences", "--dataset", "typed-prefs");
    const printed = await rlhf(
      "export",
      "preferences",
      "--dataset",
      "typed-prefs",
      "--format",
      "rankings",
      "--out",
      "prefs.jsonl",
    );
    expect(printed).toContain(here("prefs.jsonl"));
    expect(readFileSync(here("prefs.jsonl"), "utf8")).toContain("Say hi.");
    expect(existsSync(path.join(root, "prefs.jsonl"))).toBe(false);
  });

  it("tokenizer train --out", async () => {
    await rlhf(
      "tokenizer",
      "train",
      "--out",
      "tokenizer.json",
      "--dataset",
      "demo-corpus",
      "--vocab-size",
      "280",
    );
    expect(JSON.parse(readFileSync(here("tokenizer.json"), "utf8")).model.type).toBe("BPE");
  });

  it("launch <kind> --config, launch pipeline --config", async () => {
    write("generate.json", { checkpoint: "run:nothing-yet", dataset: "generated" });
    // Read from the typed-in directory: the error is about the config's content, not a missing file.
    await expect(rlhf("launch", "generate", "--config", "generate.json")).rejects.toThrow(
      /run:nothing-yet matches no run/,
    );
    write("pretrain.json", { maxSteps: 3 });
    await rlhf("launch", "pretrain", "--config", "pretrain.json", "--name", "typed-launch");
    const [run] = await t.db.select().from(runs).where(eq(runs.name, "typed-launch"));
    expect(run?.config).toMatchObject({ maxSteps: 3 });
    write("pipeline.json", {
      steps: [{ key: "p", kind: "pretrain", config: { maxSteps: 2 }, name: "typed-step" }],
    });
    await rlhf("launch", "pipeline", "--config", "pipeline.json");
    expect((await t.db.select().from(runs).where(eq(runs.name, "typed-step"))).length).toBe(1);
    await expect(rlhf("launch", "pretrain", "--config", "missing.json")).rejects.toThrow(
      `missing.json: no such file (looked in ${typedIn})`,
    );
  });

  it("train <kind> --config, and a checkpoint directory given as a flag (--init ./dir)", () => {
    write("train.json", { maxSteps: 7 });
    mkdirSync(here("gpt2"), { recursive: true });
    const config = configFromOptions("pretrain", {
      config: "train.json",
      init: "gpt2",
      dataset: "demo-corpus",
    });
    expect(config).toMatchObject({ maxSteps: 7, init: here("gpt2"), dataset: "demo-corpus" });
  });

  it("log --config and log --file", async () => {
    write("hparams.json", { lr: 0.001 });
    write("points.jsonl", '{"step": 1, "loss": 0.9}\n{"step": 2, "loss": 0.8}\n');
    await rlhf("log", "--name", "typed-external", "--config", "hparams.json");
    await rlhf("log", "--name", "typed-external", "--file", "points.jsonl");
    const [run] = await t.db.select().from(runs).where(eq(runs.name, "typed-external"));
    expect(run?.config).toMatchObject({ lr: 0.001 });
    expect((await t.db.select().from(metrics).where(eq(metrics.runId, run!.id))).length).toBe(2);
  });

  it("serve --checkpoint and generate --checkpoint", async () => {
    await expect(rlhf("serve", "--checkpoint", "no-model", "--port", "0")).rejects.toThrow(here("no-model"));
    await expect(rlhf("generate", "--checkpoint", "no-model", "--backend", "cpu")).rejects.toThrow(
      here("no-model"),
    );
  });

  it("as typed: `pnpm rlhf export preferences --out` from a subdirectory writes there", async () => {
    const sub = here("sub");
    mkdirSync(sub);
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(
        "pnpm",
        [
          "rlhf",
          "export",
          "preferences",
          "--dataset",
          "typed-prefs",
          "--format",
          "rankings",
          "--out",
          "p.jsonl",
        ],
        {
          cwd: sub,
          env: { ...process.env, INIT_CWD: "" },
          stdio: "ignore",
        },
      );
      child.once("exit", resolve);
    });
    expect(code).toBe(0);
    expect(readFileSync(path.join(sub, "p.jsonl"), "utf8")).toContain("Say hi.");
  });

  it("a failing `pnpm rlhf` prints its error, the closest run name, and no pnpm recursion noise", async () => {
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn("pnpm", ["rlhf", "runs", "show", "typed-lunch"], { cwd: root, env: process.env });
      let output = "";
      child.stdout!.on("data", (d) => (output += d));
      child.stderr!.on("data", (d) => (output += d));
      child.once("exit", (exitCode) => resolve({ code: exitCode, output }));
    });
    expect(code).toBe(1);
    expect(output).toContain('rlhf: no run with id or name "typed-lunch" (did you mean typed-launch?)');
    expect(output).not.toContain("ERR_PNPM_RECURSIVE_EXEC_FIRST_FAIL");
  });
});
