/**
 * A user's reward function: the export of a .ts/.js/.mjs file, imported in the job process with tsx's
 * tsImport (so TypeScript works without a build step). Launch checked the file and the export already
 * (checkRewardSpec in @rlhf/core/rewards); a file changed since then fails here with the same words.
 */
import { statSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { missingExportMessage } from "@rlhf/core/rewards";
import { tsImport } from "tsx/esm/api";
import { type RewardFunction, RewardFunctionError } from "./types";

export async function loadUserFunction(
  name: string,
  fn: { module: string; export: string },
  cwd = process.cwd(),
): Promise<RewardFunction> {
  const file = path.resolve(cwd, fn.module);
  if (!statSync(file, { throwIfNoEntry: false })?.isFile())
    throw new RewardFunctionError(name, undefined, `no such file: ${file}`);
  let mod: Record<string, unknown>;
  try {
    mod = await tsImport(pathToFileURL(file).href, import.meta.url);
  } catch (error) {
    throw new RewardFunctionError(name, undefined, `importing ${file} failed: ${(error as Error).message}`);
  }
  const value = mod[fn.export];
  if (typeof value !== "function") {
    const kinds = Object.fromEntries(Object.entries(mod).map(([k, v]) => [k, typeof v]));
    throw new RewardFunctionError(name, undefined, missingExportMessage(file, fn.export, kinds));
  }
  return value as RewardFunction;
}
