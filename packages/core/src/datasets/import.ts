/**
 * Importing the datasets the trainers read: text corpora (pretraining), SFT pairs and prompts (PPO,
 * generate). All or nothing, in one transaction: every line is checked first, and one bad line stores
 * nothing and names every bad line with its field and reason (`parseJsonl`). Rows land in `examples` as
 * `loadTexts`, `loadPairs` and `loadPrompts` in @rlhf/trainer read them: `text`, or `prompt` + `response`,
 * or `prompt`; `idx` continuing after the dataset's last row; `split` train or eval.
 */
import { eq, sql } from "drizzle-orm";
import type { Db } from "../db/open";
import { datasets, examples } from "../db/schema";
import {
  datasetNameProblem,
  ImportError,
  parseJsonl,
  promptLineSchema,
  sftLineSchema,
  textLineSchema,
} from "../formats";
import { messageText, type ServerText } from "../server-text";

export const IMPORT_DATASET_KINDS = ["text", "sft", "prompts"] as const;
export type ImportDatasetKind = (typeof IMPORT_DATASET_KINDS)[number];

/** The largest file one import takes (bytes of UTF-8); bigger files go in as parts, which append. */
export const MAX_IMPORT_BYTES = 50 * 1024 * 1024;
/** Rows per INSERT statement (PostgreSQL allows 65,535 parameters per statement). */
const INSERT_CHUNK = 1000;

/** A request the importer refuses as a whole (not a line): the dataset's name or kind, the file's size. */
export class DatasetImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DatasetImportError";
    this.text = messageText(message);
  }
  /** The message as codes, for a page in another language (server-text.ts). */
  readonly text: ServerText;
}

export interface ImportDatasetOptions {
  kind: ImportDatasetKind;
  /** The dataset: created when missing, appended to when it exists with the same kind. */
  name: string;
  /** The file's content. */
  content: string;
  /**
   * `jsonl` (default): one JSON object per line. `txt` (text only): plain text, one document per block of
   * lines separated by a blank line.
   */
  format?: "jsonl" | "txt";
  /** Put every row in this split (an eval file imported on its own, say). Default: train. */
  split?: "train" | "eval";
  /** Hold out this share of the rows as `eval`, spread evenly through the file (0 ≤ f < 1). */
  evalFraction?: number;
  /** Description of a new dataset. */
  description?: string;
  /** Called after each stored chunk of rows (a progress line for large files). */
  onProgress?: (stored: number, total: number) => void;
}

export interface ImportDatasetResult {
  kind: ImportDatasetKind;
  dataset: string;
  datasetId: string;
  created: boolean;
  /** Rows stored, and how they were split. */
  imported: number;
  train: number;
  eval: number;
  /** Rows dropped because an earlier line of the file had the same content, with their line numbers (first 20). */
  duplicates: number;
  duplicateLines: number[];
}

interface Row {
  line: number;
  text?: string;
  prompt?: string;
  response?: string;
}

/** Plain text: one document per block of non-blank lines; its line number is the block's first line. */
export function textDocuments(content: string): Row[] {
  const rows: Row[] = [];
  let block: string[] = [];
  let start = 0;
  const lines = content.split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    if (line.trim() === "") {
      if (block.length > 0) rows.push({ line: start, text: block.join("\n") });
      block = [];
      continue;
    }
    if (block.length === 0) start = i + 1;
    block.push(line.trimEnd());
  }
  if (block.length > 0) rows.push({ line: start, text: block.join("\n") });
  const nul = rows.filter((r) => r.text!.includes("\u0000"));
  if (nul.length > 0) {
    throw new ImportError(
      nul.map((r) => ({
        line: r.line,
        field: "(text)",
        message: "contains a NUL character, which cannot be stored",
      })),
    );
  }
  return rows;
}

/** The rows of a file of `kind`, with the line each came from. Throws ImportError naming every bad line. */
function parseRows(kind: ImportDatasetKind, content: string, format: "jsonl" | "txt"): Row[] {
  if (format === "txt") {
    if (kind !== "text") {
      throw new DatasetImportError(`a .txt file holds a text corpus; ${kind} files are JSONL`);
    }
    return textDocuments(content);
  }
  // parseJsonl skips blank lines, so the line numbers are recovered from the non-blank ones.
  const lineNumbers: number[] = [];
  for (const [i, raw] of content.split(/\r?\n/).entries()) if (raw.trim() !== "") lineNumbers.push(i + 1);
  if (kind === "text")
    return parseJsonl(content, textLineSchema).map((r, i) => ({ line: lineNumbers[i]!, text: r.text }));
  if (kind === "sft")
    return parseJsonl(content, sftLineSchema).map((r, i) => ({
      line: lineNumbers[i]!,
      prompt: r.prompt,
      response: r.response,
    }));
  return parseJsonl(content, promptLineSchema).map((r, i) => ({ line: lineNumbers[i]!, prompt: r.prompt }));
}

/** Rows with the same content as an earlier row of the file are dropped (the first is kept). */
function dropDuplicates(rows: Row[]): { kept: Row[]; duplicateLines: number[] } {
  const seen = new Set<string>();
  const kept: Row[] = [];
  const duplicateLines: number[] = [];
  for (const row of rows) {
    const key = JSON.stringify([row.text, row.prompt, row.response]);
    if (seen.has(key)) duplicateLines.push(row.line);
    else {
      seen.add(key);
      kept.push(row);
    }
  }
  return { kept, duplicateLines };
}

/**
 * Whether row `i` of `n` is held out: the eval rows are spread evenly (every 1/f-th row), so a file
 * sorted by topic or length still has every part of it on both sides. floor(n · f) rows in all.
 */
export function isEvalRow(i: number, evalFraction: number): boolean {
  return Math.floor((i + 1) * evalFraction) > Math.floor(i * evalFraction);
}

/**
 * Import a text corpus, SFT pairs or prompts into a dataset (created, or appended to when it exists with
 * the same kind). Throws ImportError (every bad line) or DatasetImportError (the request), storing nothing.
 */
export async function importDataset(db: Db, options: ImportDatasetOptions): Promise<ImportDatasetResult> {
  const { kind, content } = options;
  const name = options.name.trim();
  const format = options.format ?? "jsonl";
  if (!(IMPORT_DATASET_KINDS as readonly string[]).includes(kind)) {
    throw new DatasetImportError(
      `kind: must be one of ${IMPORT_DATASET_KINDS.join(", ")} (preference data has its own import)`,
    );
  }
  const nameProblem = datasetNameProblem(name);
  if (nameProblem) throw new DatasetImportError(`dataset: ${nameProblem}`);
  const bytes = Buffer.byteLength(content, "utf8");
  if (bytes > MAX_IMPORT_BYTES) {
    throw new DatasetImportError(
      `the file is ${(bytes / 1024 / 1024).toFixed(1)} MB; one import takes at most ${MAX_IMPORT_BYTES / 1024 / 1024} MB: split it and import the parts into the same dataset (they append)`,
    );
  }
  if (options.split !== undefined && options.evalFraction !== undefined) {
    throw new DatasetImportError("give a split or an eval fraction, not both");
  }
  const evalFraction = options.evalFraction ?? 0;
  if (!(evalFraction >= 0 && evalFraction < 1)) {
    throw new DatasetImportError(`eval fraction: must be at least 0 and below 1 (got ${evalFraction})`);
  }

  const parsed = parseRows(kind, content, format);
  if (parsed.length === 0) {
    throw new ImportError([{ line: 1, field: "(file)", message: "the file has no rows" }]);
  }
  const { kept, duplicateLines } = dropDuplicates(parsed);
  const splits = kept.map(
    (_, i) => options.split ?? (evalFraction > 0 && isEvalRow(i, evalFraction) ? "eval" : "train"),
  );

  return db.transaction(async (tx) => {
    // Create or find the dataset, then lock it so concurrent appends take idx ranges one after the other.
    const [inserted] = await tx
      .insert(datasets)
      .values({ name, kind, description: options.description ?? "", source: "import" })
      .onConflictDoNothing({ target: datasets.name })
      .returning({ id: datasets.id });
    const [dataset] = await tx
      .execute<{ id: string; kind: string }>(
        sql`select id, kind from ${datasets} where name = ${name} for update`,
      )
      .then((r) => r.rows);
    if (!dataset) throw new DatasetImportError(`dataset: "${name}" could not be created`);
    if (dataset.kind !== kind) {
      throw new DatasetImportError(
        `dataset: "${name}" holds ${dataset.kind}, not ${kind}; import into a new dataset name`,
      );
    }
    const [max] = await tx
      .select({ idx: sql<number>`coalesce(max(${examples.idx}), -1)::int` })
      .from(examples)
      .where(eq(examples.datasetId, dataset.id));
    const start = (max?.idx ?? -1) + 1;

    for (let i = 0; i < kept.length; i += INSERT_CHUNK) {
      await tx.insert(examples).values(
        kept.slice(i, i + INSERT_CHUNK).map((row, j) => ({
          datasetId: dataset.id,
          idx: start + i + j,
          split: splits[i + j]!,
          text: row.text ?? null,
          prompt: row.prompt ?? null,
          response: row.response ?? null,
        })),
      );
      options.onProgress?.(Math.min(i + INSERT_CHUNK, kept.length), kept.length);
    }
    const evalCount = splits.filter((s) => s === "eval").length;
    return {
      kind,
      dataset: name,
      datasetId: dataset.id,
      created: inserted !== undefined,
      imported: kept.length,
      train: kept.length - evalCount,
      eval: evalCount,
      duplicates: duplicateLines.length,
      duplicateLines: duplicateLines.slice(0, 20),
    };
  });
}
