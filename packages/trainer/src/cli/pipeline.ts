import { openDatabase } from "@rlhf/core/db";
import type { DemoLanguage } from "@rlhf/core/demo";
import { formatDemoSummary, runDemoPipeline } from "../pipeline/demo";

export async function pipelineCommand(options: {
  demo?: boolean;
  quick?: boolean;
  seed: string;
  json?: boolean;
  language?: DemoLanguage;
}): Promise<void> {
  if (!options.demo)
    throw new Error("only the demo pipeline runs from here so far: pnpm rlhf pipeline --demo [--quick]");
  const database = await openDatabase();
  const controller = new AbortController();
  process.on("SIGINT", () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write("\nstopping after the current stage's checkpoint (Ctrl-C again to quit at once)…\n");
    controller.abort("cancel");
  });
  try {
    const result = await runDemoPipeline(database, {
      quick: options.quick,
      seed: Number(options.seed),
      language: options.language,
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
