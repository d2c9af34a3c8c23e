/** `rlhf export preferences`: a preference dataset as TRL pairs or full rankings (JSONL). */
import { writeFileSync } from "node:fs";
import { openDatabase } from "@rlhf/core/db";
import { EXPORT_FORMATS, type ExportFormat, exportPreferences } from "@rlhf/core/labeling";
import { cliPath } from "./files";

export async function exportPreferencesCommand(options: {
  dataset: string;
  format: string;
  out?: string;
}): Promise<void> {
  if (!(EXPORT_FORMATS as readonly string[]).includes(options.format)) {
    throw new Error(`--format must be one of ${EXPORT_FORMATS.join(", ")} (got "${options.format}")`);
  }
  const database = await openDatabase();
  try {
    const jsonl = await exportPreferences(database.db, options.dataset, options.format as ExportFormat);
    if (options.out && options.out !== "-") {
      const out = cliPath(options.out);
      writeFileSync(out, jsonl);
      const lines = jsonl === "" ? 0 : jsonl.split("\n").length - 1;
      process.stderr.write(`wrote ${lines} lines to ${out}\n`);
    } else {
      process.stdout.write(jsonl);
    }
  } finally {
    await database.close();
  }
}
