/**
 * What the run and job commands share: a database opened for one command, lines and `--json` on stdout,
 * aligned tables, and times and numbers as a person reads them.
 */
import { type Database, openDatabase } from "@rlhf/core/db";

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

export function ago(date: Date | null | undefined): string {
  if (!date) return "-";
  const s = Math.max(0, (Date.now() - date.getTime()) / 1000);
  if (s < 60) return `${Math.round(s)}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

export function duration(start: Date | null, end: Date | null): string {
  if (!start) return "-";
  const s = Math.round(((end ?? new Date()).getTime() - start.getTime()) / 1000);
  return s < 60
    ? `${s}s`
    : s < 3600
      ? `${Math.floor(s / 60)}m${s % 60}s`
      : `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
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
