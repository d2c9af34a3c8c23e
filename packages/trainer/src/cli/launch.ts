/**
 * `rlhf launch`: queue a run, or a pipeline of runs, for a worker (`rlhf train` runs one here and now).
 */
import { ConfigError, isJobKind, type JobKind, jobConfigSchemas } from "@rlhf/core/configs";
import { launchPipeline, launchRun, type PipelineStep } from "@rlhf/core/queue";
import { readJsonFile } from "./files";
import { type JsonOption, out, printJson, withDatabase } from "./output";

function configProblem(file: string, error: unknown): never {
  if (error instanceof ConfigError) {
    throw new Error(
      `${file}: invalid ${error.kind} config:\n${error.issues.map((i) => `  ${i.path || "(root)"}: ${i.message}`).join("\n")}`,
    );
  }
  throw error;
}

export async function launchCommand(
  kind: string,
  options: { config?: string; name?: string } & JsonOption,
): Promise<void> {
  if (kind !== "pipeline" && !isJobKind(kind)) {
    throw new Error(
      `unknown job kind "${kind}"; expected ${Object.keys(jobConfigSchemas).join(", ")} or pipeline`,
    );
  }
  const file = options.config;
  const config = file ? readJsonFile(file) : {};
  await withDatabase(async (database) => {
    if (kind === "pipeline") {
      if (!file)
        throw new Error('pnpm rlhf launch pipeline needs --config pipeline.json ({ "steps": [...] })');
      const steps = (
        Array.isArray(config) ? config : (config as { steps?: unknown }).steps
      ) as PipelineStep[];
      if (!Array.isArray(steps))
        throw new Error(`${file}: expected { "steps": [ { "kind", "config", "key"?, "name"? }, ... ] }`);
      const { pipelineId, runs } = await launchPipeline(database, steps).catch((e) => configProblem(file, e));
      if (options.json) return printJson({ pipelineId, runs });
      out(`queued pipeline ${pipelineId}:`);
      for (const run of runs) {
        const after = run.inputs.map((i) => runs.find((r) => r.id === i.parentRunId)?.name ?? i.parentRunId);
        out(`  ${run.name}  ${run.kind}  ${run.id}${after.length ? `  (after ${after.join(", ")})` : ""}`);
      }
      return;
    }
    const run = await launchRun(database, { kind: kind as JobKind, config, name: options.name }).catch((e) =>
      configProblem(file ?? "(no --config)", e),
    );
    if (options.json) return printJson(run);
    out(`queued ${run.kind} run ${run.name} (${run.id})`);
    out(
      `  follow it: pnpm rlhf runs logs ${run.name} --follow; a worker runs it: pnpm rlhf worker (pnpm start runs one)`,
    );
  });
}
