/**
 * `rlhf train <kind>`: run a job here and now (no queue), recorded as a run like any other so its curves
 * and samples show in the dashboard. Ctrl-C stops it after a checkpoint and marks it cancelled.
 */
import type { JobKind } from "@rlhf/core/configs";
import { openDatabase } from "@rlhf/core/db";
import { createRun, validateRunConfig } from "@rlhf/core/queue";
import { SingleBar } from "cli-progress";
import { executeRun } from "../jobs/execute";
import { onStopSignals } from "../signals";
import { configFromOptions } from "./config-flags";

export async function trainCommand(kind: JobKind, options: Record<string, unknown>): Promise<void> {
  // As at launch: an invalid config, or a reward module that is missing or lacks the export, is refused
  // before the database is opened or a run recorded.
  const config = await validateRunConfig(kind, configFromOptions(kind, options));
  const database = await openDatabase();
  const name =
    typeof options.name === "string"
      ? options.name
      : `${kind}-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-")}`;
  const run = await createRun(database, { kind, config, name }).catch(async (error: unknown) => {
    await database.close();
    throw error;
  });
  const controller = new AbortController();
  onStopSignals(
    (_signal, press) => {
      if (press > 1) process.exit(130);
      process.stderr.write("\nstopping after a checkpoint (Ctrl-C again to quit at once)…\n");
      controller.abort("cancel");
    },
    { signals: ["SIGINT", "SIGTERM"] },
  );

  const interactive = process.stderr.isTTY && !options.json;
  const bar = new SingleBar({
    format: `${kind} [{bar}] {value}/{total} steps | {eta_formatted} left | {rate}`,
    hideCursor: true,
    etaBuffer: 20,
    noTTYOutput: false,
  });
  let started = false;
  let lastTime = Date.now();
  let lastStep = 0;
  process.stderr.write(`run ${run.name} (${run.id})\n`);
  const result = await executeRun(database, run.id, {
    signal: controller.signal,
    echo: (line) => {
      // Keep log lines above the bar: clear the bar's line, print, and let the next update redraw it.
      process.stderr.write(`${interactive && started ? "\r\x1b[2K" : ""}  ${line}\n`);
      if (interactive && started) bar.render();
    },
    onProgress: (step, total) => {
      if (!started) {
        bar.start(total, step, { rate: "" });
        started = true;
      }
      const now = Date.now();
      const rate =
        now > lastTime ? `${(((step - lastStep) * 1000) / (now - lastTime)).toFixed(2)} steps/s` : "";
      lastTime = now;
      lastStep = step;
      bar.update(step, { rate });
    },
  });
  if (started) bar.stop();
  await database.close();
  if (options.json) process.stdout.write(`${JSON.stringify({ runId: run.id, ...result }, null, 2)}\n`);
  else {
    process.stdout.write(`\n${result.status}: ${run.name}\n`);
    for (const [key, value] of Object.entries(result.summary ?? {})) {
      process.stdout.write(
        `  ${key.padEnd(24)} ${typeof value === "number" ? Number(value.toPrecision(6)) : value}\n`,
      );
    }
    if (result.error) process.stdout.write(`  error: ${result.error}\n`);
  }
  process.exitCode = result.status === "succeeded" ? 0 : result.status === "cancelled" ? 130 : 1;
}
