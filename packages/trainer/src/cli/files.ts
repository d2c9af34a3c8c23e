/**
 * Where a relative path on the command line points: the directory the command was typed in. `pnpm rlhf`
 * runs the CLI from the workspace root (a root script), and pnpm passes the caller's directory on as
 * INIT_CWD; `rlhf` run any other way has it as its working directory. Every file argument and option of
 * the CLI goes through here, so `--out prefs.jsonl` lands beside the person who typed it; JSON files named
 * on the command line are read here too.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { workspaceRoot } from "@rlhf/core/db";
import { type CoreEnv, coreEnv } from "@rlhf/core/env";

/** The directory the command was typed in. */
export function invokingDir(env: Pick<CoreEnv, "INIT_CWD"> = coreEnv(), cwd: string = process.cwd()): string {
  // INIT_CWD only counts inside the workspace, where pnpm runs us: a process started elsewhere by a
  // pnpm script (a test in a scratch directory, say) inherits a stale INIT_CWD.
  const init = env.INIT_CWD;
  if (init && path.isAbsolute(init) && workspaceRoot(cwd) !== undefined) return init;
  return cwd;
}

/** `file` as an absolute path, relative ones taken from where the command was typed; `-` (stdin/stdout) stays. */
export function cliPath(file: string): string {
  return file === "-" ? file : path.resolve(invokingDir(), file);
}

/**
 * A checkpoint given on the command line: `run:<ref>` as it is, a directory made absolute (the run may be
 * executed by a worker in another directory).
 */
export function cliCheckpoint(ref: string): string {
  return ref.startsWith("run:") ? ref : cliPath(ref);
}

/**
 * A string config flag that names an existing file or directory where the command was typed (`--init
 * ./models/gpt2`), made absolute; any other value (a dataset name, `run:…`) as it is.
 */
export function cliValue(value: string): string {
  if (value.startsWith("run:") || path.isAbsolute(value)) return value;
  const resolved = cliPath(value);
  return existsSync(resolved) ? resolved : value;
}

/** A JSON file, or an error naming the file, line and column. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(cliPath(file), "utf8");
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    throw new Error(
      `${file}: ${missing ? `no such file (looked in ${invokingDir()})` : (error as Error).message}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    // Node 20's message has no position; find the first offending character ourselves.
    const before = text.slice(0, jsonErrorOffset(text)).split("\n");
    throw new Error(
      `${file}:${before.length}:${before.at(-1)!.length + 1}: invalid JSON: ${(error as Error).message.split("\n")[0]}`,
    );
  }
}

/** Offset of the first character where `text` stops being JSON (a small recursive-descent scan). */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const space = () => {
    while (/\s/.test(text[i] ?? "")) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      i++;
      space();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === "{") {
          space();
          if (text[i] !== '"') fail();
          value();
          space();
          if (text[i] !== ":") fail();
          i++;
        }
        value();
        space();
        if (text[i] === ",") i++;
        else if (text[i] === close) {
          i++;
          return;
        } else fail();
      }
    }
    if (c === '"') {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: JSON strings may not hold raw control characters
      const match = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(text.slice(i));
      if (!match) fail();
      i += match![0].length;
      return;
    }
    const literal = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i));
    if (!literal) fail();
    i += literal![0].length;
  };
  try {
    value();
    space();
    return Math.min(i, text.length);
  } catch (offset) {
    return offset as number;
  }
}
