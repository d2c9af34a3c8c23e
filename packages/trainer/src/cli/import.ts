/**
 * `rlhf import <file>`: a text corpus, SFT pairs or prompts into a dataset the trainers read
 * (`importDataset`), or preference data into the labeler's comparison tasks (`importJsonl`). All or
 * nothing either way: a bad line stores nothing, and every bad line is named.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import {
  IMPORT_DATASET_KINDS,
  type ImportDatasetKind,
  importDataset,
  MAX_IMPORT_BYTES,
} from "@rlhf/core/datasets";
import { openDatabase } from "@rlhf/core/db";
import { importJsonl } from "@rlhf/core/labeling";
import { cliPath } from "./files";

const KINDS = [...IMPORT_DATASET_KINDS, "preferences"] as const;

export interface ImportCommandOptions {
  kind: string;
  dataset: string;
  evalFraction?: string;
  split?: string;
  format?: string;
  json?: boolean;
}

const count = (n: number) => n.toLocaleString("en-US");

export async function importCommand(file: string, options: ImportCommandOptions): Promise<void> {
  if (!(KINDS as readonly string[]).includes(options.kind)) {
    throw new Error(`--kind must be one of ${KINDS.join(", ")} (got "${options.kind}")`);
  }
  const format = options.format ?? (path.extname(file).toLowerCase() === ".txt" ? "txt" : "jsonl");
  if (format !== "jsonl" && format !== "txt")
    throw new Error(`--format must be jsonl or txt (got "${format}")`);
  if (options.split !== undefined && options.split !== "train" && options.split !== "eval") {
    throw new Error(`--split must be train or eval (got "${options.split}")`);
  }
  const evalFraction = options.evalFraction === undefined ? undefined : Number(options.evalFraction);
  if (evalFraction !== undefined && Number.isNaN(evalFraction)) {
    throw new Error(`--eval-fraction must be a number (got "${options.evalFraction}")`);
  }

  const source = cliPath(file);
  if (source !== "-" && !existsSync(source)) throw new Error(`${source}: no such file`);
  // Refused before reading: a file over the cap is not loaded into memory at all.
  const bytes = source === "-" ? undefined : statSync(source).size;
  if (bytes !== undefined && bytes > MAX_IMPORT_BYTES) {
    throw new Error(
      `${file} is ${(bytes / 1024 / 1024).toFixed(1)} MB; one import takes at most ${MAX_IMPORT_BYTES / 1024 / 1024} MB: split it and import the parts into the same dataset (they append)`,
    );
  }
  const content = readFileSync(source === "-" ? 0 : source, "utf8");

  const database = await openDatabase();
  try {
    if (options.kind === "preferences") {
      if (evalFraction !== undefined || options.split !== undefined || format === "txt") {
        throw new Error(
          "preferences are comparison tasks (JSONL): the reward and DPO runs hold out their own evalFraction",
        );
      }
      const result = await importJsonl(database.db, { dataset: options.dataset, text: content });
      if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else
        process.stdout.write(
          `imported ${count(result.imported)} ${result.kind === "prompts" ? "prompts" : "comparison tasks"} into ${result.kind === "prompts" ? "prompts" : "preferences"} dataset "${result.dataset}"${result.created ? " (new)" : ""}${result.gold > 0 ? `, ${result.gold} of them gold` : ""}\n`,
        );
      return;
    }

    const progress = progressLine(file);
    const result = await importDataset(database.db, {
      kind: options.kind as ImportDatasetKind,
      name: options.dataset,
      content,
      format,
      split: options.split as "train" | "eval" | undefined,
      evalFraction,
      description: `imported from ${path.basename(file === "-" ? "stdin" : file)}`,
      onProgress: progress.update,
    });
    progress.done();
    if (options.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    const what = { text: "texts", sft: "SFT pairs", prompts: "prompts" }[result.kind];
    process.stdout.write(
      `imported ${count(result.imported)} ${what} into ${result.kind} dataset "${result.dataset}"${result.created ? " (new)" : ""}: ${count(result.train)} train, ${count(result.eval)} eval\n`,
    );
    if (result.duplicates > 0) {
      process.stdout.write(
        `dropped ${count(result.duplicates)} duplicate ${result.duplicates === 1 ? "line" : "lines"} (same content as an earlier line): line ${result.duplicateLines.join(", ")}${result.duplicates > result.duplicateLines.length ? ", …" : ""}\n`,
      );
    }
  } finally {
    await database.close();
  }
}

/** "stored 12,000 / 40,000 rows" on standard error, rewritten in place on a terminal, for files of 2+ chunks. */
function progressLine(file: string) {
  const interactive = process.stderr.isTTY === true;
  let shown = false;
  let lastTenth = -1;
  return {
    update: (stored: number, total: number) => {
      if (total <= 1000) return;
      const tenth = Math.floor((stored / total) * 10);
      if (!interactive && tenth === lastTenth) return;
      lastTenth = tenth;
      shown = true;
      const line = `${path.basename(file)}: stored ${count(stored)} / ${count(total)} rows`;
      process.stderr.write(interactive ? `\r\x1b[2K${line}` : `${line}\n`);
    },
    done: () => {
      if (shown && interactive) process.stderr.write("\n");
    },
  };
}
