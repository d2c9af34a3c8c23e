/**
 * Launch-time check of a reward spec's own functions: each `{ module, export }` must name a file that exists
 * and exports a function of that name, or the launch is refused with nothing queued. The module is imported
 * in a child process with tsx's tsImport (so .ts files work): the user's code never runs inside the dashboard or the
 * CLI, and an edited file is read afresh rather than from this process's module cache.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { ConfigError, type RewardTerm } from "../configs";

/** Prints `{ "<export>": "<typeof>" }` of the module named by argv[1], or `{ "error": message }`. */
const LIST_EXPORTS = `
try {
  const { pathToFileURL } = await import("node:url");
  const { tsImport } = await import("tsx/esm/api");
  const mod = await tsImport(pathToFileURL(process.argv[1]).href, import.meta.url);
  const kinds = {};
  for (const [name, value] of Object.entries(mod)) kinds[name] = typeof value;
  process.stdout.write(JSON.stringify({ exports: kinds }));
} catch (error) {
  process.stdout.write(JSON.stringify({ error: String(error && error.message ? error.message : error) }));
}
`;

const IMPORT_TIMEOUT_MS = 30_000;

function isPackage(dir: string, name: string): boolean {
  try {
    return JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")).name === name;
  } catch {
    return false;
  }
}

/** A package's folder in a node_modules (plain or pnpm's .pnpm store) at `from` or above it. */
export function findPackageAbove(name: string, from: string): string | undefined {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const store = path.join(dir, "node_modules", ".pnpm");
    const candidates = [
      path.join(dir, "node_modules", name),
      ...(existsSync(store) ? readdirSync(store) : [])
        .filter((entry) => entry.startsWith(`${name}@`))
        .map((entry) => path.join(store, entry, "node_modules", name)),
    ];
    const found = candidates.find((candidate) => isPackage(candidate, name));
    if (found) return found;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/**
 * The tsx package's folder: resolved from this file, else (inside a bundle such as the dashboard's server,
 * where this file's URL is a chunk's) found in a node_modules above the working directory.
 */
function tsxDirectory(): string {
  try {
    const dir = path.dirname(createRequire(import.meta.url).resolve("tsx/package.json"));
    if (isPackage(dir, "tsx")) return dir;
  } catch {
    // fall through to the search
  }
  const found = findPackageAbove("tsx", process.cwd());
  if (!found) throw new Error("cannot find the tsx package, which imports reward modules; install tsx");
  return found;
}

/** The exports of a module and their `typeof`, read in a child process; throws with the import's error. */
export async function moduleExports(file: string): Promise<Record<string, string>> {
  // Run inside tsx's own folder: the script's `import("tsx/esm/api")` then resolves by self-reference.
  const tsxDir = tsxDirectory();
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ["--input-type=module", "-e", LIST_EXPORTS, file],
      { cwd: tsxDir, timeout: IMPORT_TIMEOUT_MS, maxBuffer: 1 << 20 },
      (error, out, err) => {
        if (!error || out) return resolve(out);
        reject(
          new Error(
            error.killed
              ? `importing it took longer than ${IMPORT_TIMEOUT_MS / 1000} s`
              : err.trim().split("\n").at(-1) || error.message,
          ),
        );
      },
    );
  });
  let result: { exports?: Record<string, string>; error?: string };
  try {
    result = JSON.parse(stdout);
  } catch {
    throw new Error(`importing it printed to stdout: ${stdout.slice(0, 200)}`);
  }
  if (result.error !== undefined) throw new Error(result.error);
  return result.exports ?? {};
}

/** Why `exportName` of `file` is not a reward function, given the `typeof` of each export. */
export function missingExportMessage(
  file: string,
  exportName: string,
  kinds: Record<string, string>,
): string {
  const functions = Object.keys(kinds).filter((k) => kinds[k] === "function");
  const found = kinds[exportName];
  return `${file} ${found === undefined ? "exports nothing named" : `exports a ${found}, not a function, as`} "${exportName}"; its functions: ${functions.join(", ") || "none"}`;
}

type SpecLike = { rewards?: RewardTerm[]; evaluation?: RewardTerm[] };

/**
 * Check every `{ module, export }` of a parsed config's `rewards` and `evaluation` (paths relative to `cwd`;
 * configs without them pass unchanged). Returns a copy of `config` whose module paths are absolute, so the job process finds them wherever it runs; throws a
 * ConfigError naming `rewards.<i>.function.module` or `….export` otherwise.
 */
export async function checkRewardSpec<T extends object>(
  config: T,
  cwd: string,
  kind = "reward spec",
): Promise<T> {
  const spec = config as SpecLike;
  const issues: { path: string; message: string }[] = [];
  const exportsOf = new Map<string, Promise<Record<string, string>>>();
  const resolved: Partial<Record<"rewards" | "evaluation", RewardTerm[]>> = {};
  for (const list of ["rewards", "evaluation"] as const) {
    const terms = spec[list];
    if (!Array.isArray(terms)) continue;
    resolved[list] = await Promise.all(
      terms.map(async (term, i) => {
        if (typeof term.function === "string") return term;
        const where = `${list}.${i}.function`;
        const file = path.resolve(cwd, term.function.module);
        if (!statSync(file, { throwIfNoEntry: false })?.isFile()) {
          issues.push({ path: `${where}.module`, message: `no such file: ${file}` });
          return term;
        }
        if (!exportsOf.has(file)) exportsOf.set(file, moduleExports(file));
        let kinds: Record<string, string>;
        try {
          kinds = await exportsOf.get(file)!;
        } catch (error) {
          issues.push({
            path: `${where}.module`,
            message: `importing ${file} failed: ${(error as Error).message}`,
          });
          return term;
        }
        const name = term.function.export;
        if (kinds[name] !== "function")
          issues.push({ path: `${where}.export`, message: missingExportMessage(file, name, kinds) });
        return { ...term, function: { module: file, export: name } };
      }),
    );
  }
  if (issues.length > 0) throw new ConfigError(kind, issues);
  return { ...config, ...resolved };
}
