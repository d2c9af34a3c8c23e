/**
 * A serve run: the OpenAI API on a checkpoint, in a worker's job process, until the run is cancelled (or
 * the worker shuts down, which hands the run back to the queue to be served again elsewhere). The
 * endpoint goes into the run's summary as soon as it listens, so the dashboard can show it while it runs.
 */
import os from "node:os";
import type { ServeConfig } from "@rlhf/core/configs";
import { findRun } from "@rlhf/core/queue";
import { runs } from "@rlhf/core/schema";
import { eq } from "drizzle-orm";
import { type JobContext, JobInputError, type RunSummary } from "../train/context";
import { loadServedModel, startServer } from ".";

/** The address clients use: the machine's name when listening on every interface. */
export function endpointUrl(listening: string, host: string): string {
  if (host !== "0.0.0.0" && host !== "::") return listening;
  const url = new URL(listening);
  url.hostname = os.hostname();
  return url.origin;
}

export async function runServe(config: ServeConfig, ctx: JobContext): Promise<RunSummary> {
  const fromRun = config.checkpoint.startsWith("run:");
  if (!fromRun && config.step !== undefined) {
    throw new JobInputError(
      `step ${config.step} is given, but checkpoint ${config.checkpoint} is a directory, not a run`,
    );
  }
  let dir: string;
  try {
    dir = await ctx.resolveCheckpoint(config.checkpoint, config.step);
  } catch (error) {
    throw new JobInputError((error as Error).message);
  }
  const source = fromRun ? await findRun(ctx.database.db, config.checkpoint) : undefined;
  const name = config.modelName ?? source?.name ?? config.checkpoint;
  const served = await loadServedModel(dir, { name });
  try {
    const server = await startServer(served, {
      host: config.host,
      port: config.port,
      apiKey: config.apiKey,
      corsOrigins: config.corsOrigins,
      maxChoices: config.maxChoices,
      maxTokens: config.maxTokens,
    });
    const endpoint = endpointUrl(server.url, config.host);
    const summary = { endpoint: `${endpoint}/v1`, model: name, checkpoint: dir };
    await ctx.database.db.update(runs).set({ summary }).where(eq(runs.id, ctx.runId));
    ctx.log(`serving ${name} at ${endpoint}/v1 (checkpoint ${dir}) until cancelled`);

    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      else ctx.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    await server.close();
    const { stats } = server.engine;
    ctx.log(
      `stopped serving (${ctx.signal.reason}) after ${stats.requests} requests, ${stats.generatedTokens} tokens`,
    );
    return { ...summary, requests: stats.requests, generated_tokens: stats.generatedTokens };
  } finally {
    served.model.dispose();
  }
}
