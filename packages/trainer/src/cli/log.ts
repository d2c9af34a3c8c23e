/**
 * `rlhf log`: metrics, samples, log lines and a status for a run trained elsewhere (an external run),
 * written straight into the database or sent to a dashboard's `/api/ingest`.
 */
import { createInterface } from "node:readline";
import { openDatabase } from "@rlhf/core/db";
import { coreEnv } from "@rlhf/core/env";
import { type IngestResult, ingest } from "@rlhf/core/ingest";
import { cliPath, readJsonFile } from "./files";
import { type JsonOption, out, printJson } from "./output";

export interface LogCommandOptions extends JsonOption {
  run?: string;
  name?: string;
  step?: string;
  status?: string;
  error?: string;
  totalSteps?: string;
  config?: string;
  message?: string;
  file?: string;
  endpoint?: string;
  token?: string;
}

/**
 * Send data for an external run: `key=value` pairs at `--step`, a `--status`, a `--message`, or a JSON
 * Lines `--file` (`-` for stdin) of ingest payloads — or of shorthand points `{"step": 10, "loss": 0.5}`.
 * Straight into the database when it is reachable; to a dashboard's `/api/ingest` with `--endpoint`.
 */
export async function logCommand(pairs: string[], options: LogCommandOptions): Promise<void> {
  const run: Record<string, unknown> = {};
  if (options.run) run[/^[0-9a-f-]{36}$/i.test(options.run) ? "id" : "name"] = options.run;
  if (options.name) run.name = options.name;
  if (!run.id && !run.name) throw new Error("say which run: --run <id or name> (or --name for a new one)");
  if (options.status) run.status = options.status;
  if (options.error) run.error = options.error;
  if (options.totalSteps) run.totalSteps = Number(options.totalSteps);
  if (options.config) run.config = readJsonFile(options.config);

  const values: Record<string, number> = {};
  for (const pair of pairs) {
    const eq = pair.lastIndexOf("=");
    const value = Number(pair.slice(eq + 1));
    if (eq <= 0 || !Number.isFinite(value)) throw new Error(`"${pair}": expected key=number, e.g. loss=0.52`);
    values[pair.slice(0, eq)] = value;
  }
  if (Object.keys(values).length && options.step === undefined) throw new Error("metrics need --step <n>");

  const send = await sender(options);
  const results: IngestResult[] = [];
  const first = {
    run,
    metrics: Object.keys(values).length ? [{ step: Number(options.step), values }] : [],
    logs: options.message ? [{ message: options.message }] : [],
  };
  if (!options.file || Object.keys(values).length || options.message || Object.keys(run).length > 1) {
    results.push(await send.ingest(first));
  }
  if (options.file) {
    const target = results[0] ? { id: results[0].runId } : run;
    const input =
      options.file === "-"
        ? process.stdin
        : (await import("node:fs")).createReadStream(cliPath(options.file));
    let batch: Record<string, unknown[]> = { metrics: [], samples: [], logs: [] };
    let pending = 0;
    const flush = async () => {
      if (pending === 0) return;
      results.push(await send.ingest({ run: target, ...batch }));
      batch = { metrics: [], samples: [], logs: [] };
      pending = 0;
    };
    let lineNo = 0;
    for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
      lineNo += 1;
      if (!line.trim()) continue;
      let item: Record<string, unknown>;
      try {
        item = JSON.parse(line);
      } catch (error) {
        throw new Error(
          `${options.file === "-" ? "stdin" : options.file}:${lineNo}: invalid JSON: ${(error as Error).message}`,
        );
      }
      if ("metrics" in item || "samples" in item || "logs" in item || "run" in item) {
        await flush();
        results.push(await send.ingest({ run: target, ...item, ...(item.run ? {} : { run: target }) }));
        continue;
      }
      const { step, ...rest } = item;
      const numbers = Object.fromEntries(Object.entries(rest).filter(([, v]) => typeof v === "number"));
      batch.metrics!.push({ step, values: numbers });
      pending += 1;
      if (pending >= 1000) await flush();
    }
    await flush();
  }
  await send.close();
  const last = results.at(-1);
  if (!last) return;
  const written = results.reduce(
    (sum, r) => ({
      metrics: sum.metrics + r.written.metrics,
      samples: sum.samples + r.written.samples,
      logs: sum.logs + r.written.logs,
    }),
    { metrics: 0, samples: 0, logs: 0 },
  );
  if (options.json) return printJson({ ...last, written });
  out(
    `${last.created || results.some((r) => r.created) ? "created" : "updated"} external run ${last.name} (${last.runId}), ${last.status}: ` +
      `${written.metrics} metric values, ${written.samples} samples, ${written.logs} log lines`,
  );
  if (last.cancelRequested) out("a cancel was requested for this run: stop the training script");
}

async function sender(options: LogCommandOptions) {
  const env = coreEnv();
  const endpoint = options.endpoint ?? env.RLHF_INGEST_URL;
  if (endpoint) {
    const token = options.token ?? env.RLHF_TOKEN;
    if (!token)
      throw new Error(
        "--endpoint needs --token (or RLHF_TOKEN); create one with `pnpm rlhf tokens create <name>`",
      );
    return {
      ingest: async (payload: unknown): Promise<IngestResult> => {
        const response = await fetch(endpoint, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify(payload),
        });
        const body = (await response.json().catch(() => ({}))) as IngestResult & { error?: string };
        if (!response.ok)
          throw new Error(`${endpoint}: ${response.status} ${body.error ?? response.statusText}`);
        return body;
      },
      close: async () => {},
    };
  }
  const database = await openDatabase();
  return {
    ingest: (payload: unknown) => ingest(database, payload, { trusted: true }),
    close: () => database.close(),
  };
}
