import { openDatabase } from "@rlhf/core/db";
import type { DemoLanguage } from "@rlhf/core/demo";
import { coreEnv } from "@rlhf/core/env";
import { formatDemoSummary, runDemoPipeline } from "../pipeline/demo";

export async function pipelineCommand(options: {
  demo?: boolean;
  quick?: boolean;
  seed: string;
  json?: boolean;
  language?: DemoLanguage;
  name?: string;
  fresh?: boolean;
  outageLimit?: string;
}): Promise<void> {
  if (!options.demo)
    throw new Error("only the demo pipeline runs from here so far: pnpm rlhf pipeline --demo [--quick]");
  const outageLimitSeconds =
    options.outageLimit === undefined ? coreEnv().RLHF_OUTAGE_LIMIT_SECONDS : Number(options.outageLimit);
  if (outageLimitSeconds !== undefined && !(outageLimitSeconds > 0))
    throw new Error(`--outage-limit: expected a number of seconds above 0, got "${options.outageLimit}"`);
  const database = await openDatabase();
  const controller = new AbortController();
  // Stopped, the running stage checkpoints and is handed back; the same command continues from there.
  const stop = () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(
      "\nstopping at the current stage's next checkpoint; run the same command again to continue (Ctrl-C again to quit at once)…\n",
    );
    controller.abort("shutdown");
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  try {
    const result = await runDemoPipeline(database, {
      quick: options.quick,
      seed: Number(options.seed),
      language: options.language,
      name: options.name,
      fresh: options.fresh,
      outageLimitSeconds,
      signal: controller.signal,
      echo: (line) => process.stderr.write(`${line}\n`),
    });
    process.stdout.write(
      options.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatDemoSummary(result)}\n`,
    );
  } finally {
    await database.close();
  }
}
