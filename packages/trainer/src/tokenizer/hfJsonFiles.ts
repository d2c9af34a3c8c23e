/**
 * tokenizer.json on disk. The format (and everything that needs no file access) is `./hfJson`.
 */

import { readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Tokenizer } from "./bpe";
import {
  rolesFromTokenizerConfig,
  serializeTokenizerJson,
  type TokenizerJsonOptions,
  tokenizerFromJsonText,
} from "./hfJson";

/** Writes tokenizer.json atomically (temp file, then rename) so a crash never leaves half a file. */
export async function saveTokenizerJson(path: string, tokenizer: Tokenizer): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, serializeTokenizerJson(tokenizer), "utf8");
  await rename(tmp, path);
}

/**
 * Reads a tokenizer.json. Roles not given in `options.roles` come from a `tokenizer_config.json` beside it
 * when present (that is where transformers keeps eos/pad/bos), else from token names.
 */
export async function loadTokenizerJson(
  path: string,
  options: Omit<TokenizerJsonOptions, "source"> = {},
): Promise<Tokenizer> {
  const text = await readFile(path, "utf8");
  const fromConfig = rolesFromTokenizerConfig(
    await readOptionalJson(join(dirname(path), "tokenizer_config.json")),
  );
  return tokenizerFromJsonText(text, { source: path, roles: { ...fromConfig, ...options.roles } });
}

async function readOptionalJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${(error as Error).message})`, { cause: error });
  }
}
