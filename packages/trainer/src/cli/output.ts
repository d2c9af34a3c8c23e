/**
 * What the run and job commands share: a database opened for one command, lines and `--json` on stdout,
 * aligned tables, and times and numbers as a person reads them.
 */
import { type Database, openDatabase } from "@rlhf/core/db";
import { compactDuration, timeAgo } from "@rlhf/core/format";

export interface JsonOption {
  json?: boolean;
}

export async function withDatabase<T>(fn: (database: Database) => Promise<T>): Promise<T> {
  const database = await openDatabase();
  try {
    return await fn(database);
  } finally {
    await database.close();
  }
}

export const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};
export const printJson = (value: unknown): void => out(JSON.stringify(value, null, 2));

/** "5s ago", "3m ago", "2d ago" (English, compact: @rlhf/core/format's narrow style). */
export function ago(date: Date | null | undefined): string {
  return date ? timeAgo(date, "en", Date.now(), "narrow") : "-";
}

/** "4s", "2m5s", "1h3m" from start to end (or now). */
export function duration(start: Date | null, end: Date | null): string {
  return start ? compactDuration((end ?? new Date()).getTime() - start.getTime()) : "-";
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function formatNumber(x: number): string {
  return Number.isInteger(x)
    ? String(x)
    : Math.abs(x) >= 1e-3 && Math.abs(x) < 1e6
      ? x.toFixed(4)
      : x.toExponential(3);
}
