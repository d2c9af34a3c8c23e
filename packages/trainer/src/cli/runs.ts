/**
 * The CLI of runs and jobs: `rlhf launch`, `rlhf runs list|show|logs|cancel`, `rlhf log` (runs trained
 * elsewhere) and `rlhf tokens`. Human-readable by default, `--json` for scripts (one JSON document, or
 * one per line for streams). `rlhf worker` is in ../worker.
 */
import { createInterface } from "node:readline";
import { ConfigError, isJobKind, type JobKind, jobConfigSchemas } from "@rlhf/core/configs";
import { type Database, openDatabase } from "@rlhf/core/db";
import { createApiToken, type IngestResult, ingest, listApiTokens, revokeApiToken } from "@rlhf/core/ingest";
import {
  cancelRun,
  getRun,
  type LogLine,
  launchPipeline,
  launchRun,
  listRuns,
  type PipelineStep,
  runDetail,
  runLogLines,
} from "@rlhf/core/queue";
import { RUN_STATUSES, type RunStatus } from "@rlhf/core/schema";
import { cliPath, readJsonFile } from "./files";

interface JsonOption {
  json?: boolean;
}

const FINAL: RunStatus[] = ["succeeded", "failed", "cancelled"];

async function withDatabase<T>(fn: (database: Database) => Promise<T>): Promise<T> {
  const database = await openDatabase();
  try {
    return await fn(database);
  } finally {
    await database.close();
  }
}

const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};
const printJson = (value: unknown): void => out(JSON.stringify(value, null, 2));

function configProblem(file: string, error: unknown): never {
  if (error instanceof ConfigError) {
    throw new Error(
      `${file}: invalid ${error.kind} config:\n${error.issues.map((i) => `  ${i.path || "(root)"}: ${i.message}`).join("\n")}`,
    );
  }
  throw error;
}

// ---------------------------------------------------------------------------------------------------
// rlhf launch
// ---------------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------------
// rlhf runs list | show | logs | cancel
// ---------------------------------------------------------------------------------------------------

function ago(date: Date | null | undefined): string {
  if (!date) return "-";
  const s = Math.max(0, (Date.now() - date.getTime()) / 1000);
  if (s < 60) return `${Math.round(s)}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

function duration(start: Date | null, end: Date | null): string {
  if (!start) return "-";
  const s = Math.round(((end ?? new Date()).getTime() - start.getTime()) / 1000);
  return s < 60
    ? `${s}s`
    : s < 3600
      ? `${Math.floor(s / 60)}m${s % 60}s`
      : `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function table(rows: string[][]): string {
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

export async function listCommand(options: { status?: string; kind?: string; limit?: string } & JsonOption) {
  const status = options.status?.split(",").map((s) => s.trim()) as RunStatus[] | undefined;
  for (const s of status ?? []) {
    if (!RUN_STATUSES.includes(s))
      throw new Error(`unknown status "${s}"; expected ${RUN_STATUSES.join(", ")}`);
  }
  await withDatabase(async (database) => {
    const rows = await listRuns(database.db, {
      status,
      kind: options.kind,
      limit: Number(options.limit ?? 50),
    });
    if (options.json) return printJson(rows);
    if (rows.length === 0) return out("no runs (queue one: pnpm rlhf launch pretrain --config file.json)");
    out(
      table([
        ["ID", "NAME", "KIND", "STATUS", "STEP", "CREATED", "TIME", "WORKER"],
        ...rows.map((r) => [
          r.id.slice(0, 8),
          r.name,
          r.kind,
          r.status,
          r.totalSteps ? `${r.step}/${r.totalSteps}` : String(r.step),
          ago(r.createdAt),
          duration(r.startedAt, r.finishedAt),
          r.workerId ?? "-",
        ]),
      ]),
    );
  });
}

export async function showCommand(ref: string, options: JsonOption) {
  await withDatabase(async (database) => {
    const detail = await runDetail(database.db, ref);
    if (options.json) return printJson(detail);
    const { run } = detail;
    const fields: [string, string][] = [
      ["id", run.id],
      ["name", run.name],
      ["kind", run.kind],
      [
        "status",
        run.status + (run.cancelRequestedAt && run.status === "running" ? " (cancel requested)" : ""),
      ],
      ["progress", run.totalSteps ? `step ${run.step} of ${run.totalSteps}` : `step ${run.step}`],
      ["attempts", String(run.attempts)],
      ["worker", run.workerId ? `${run.workerId} on ${run.workerHost}` : "-"],
      ["backend", run.backend ? `${run.backend} (${run.device})` : "-"],
      ["created", run.createdAt.toISOString()],
      ["started", run.startedAt?.toISOString() ?? "-"],
      ["finished", run.finishedAt?.toISOString() ?? "-"],
      ["heartbeat", ago(run.heartbeatAt)],
    ];
    if (run.pipelineId) fields.push(["pipeline", run.pipelineId]);
    out(table(fields.map(([k, v]) => [`${k}:`, v])));
    if (run.error) out(`\nerror: ${run.error}`);
    if (detail.inputs.length) {
      out("\ninputs:");
      for (const i of detail.inputs) out(`  ${i.role}: ${i.name} (${i.status}, ${i.id})`);
    }
    if (detail.dependents.length) {
      out("\nused by:");
      for (const d of detail.dependents) out(`  ${d.name} (${d.status}) as ${d.role}`);
    }
    if (detail.checkpoints.length) {
      out("\ncheckpoints:");
      for (const c of detail.checkpoints) out(`  step ${c.step}${c.isFinal ? " (final)" : ""}: ${c.path}`);
    }
    if (detail.latestMetrics.length) {
      out("\nlatest metrics:");
      out(
        table(
          detail.latestMetrics.map((m) => [`  ${m.key}`, `${formatNumber(m.value)}`, `@ step ${m.step}`]),
        ),
      );
    }
    if (Object.keys(run.summary).length) {
      out("\nsummary:");
      for (const [k, v] of Object.entries(run.summary))
        out(`  ${k}: ${typeof v === "number" ? formatNumber(v) : JSON.stringify(v)}`);
    }
    if (run.status === "failed" && run.logTail) out(`\nlog tail:\n${run.logTail.replace(/^/gm, "  ")}`);
  });
}

function formatNumber(x: number): string {
  return Number.isInteger(x)
    ? String(x)
    : Math.abs(x) >= 1e-3 && Math.abs(x) < 1e6
      ? x.toFixed(4)
      : x.toExponential(3);
}

export async function logsCommand(
  ref: string,
  options: { follow?: boolean; interval?: string } & JsonOption,
) {
  const print = (line: LogLine) =>
    out(
      options.json
        ? JSON.stringify(line)
        : `${line.ts.toISOString().slice(11, 19)} ${line.level === "info" ? "" : `${line.level.toUpperCase()} `}${line.message}`,
    );
  await withDatabase(async (database) => {
    const run = await getRun(database.db, ref);
    let after = 0;
    for (;;) {
      // The status first: lines written before a final state are all read in this same round.
      const now = options.follow ? await getRun(database.db, run.id) : run;
      let lines: LogLine[];
      do {
        lines = await runLogLines(database.db, run.id, after);
        for (const line of lines) print(line);
        after = lines.at(-1)?.id ?? after;
      } while (lines.length === 1000);
      if (!options.follow) return;
      if (FINAL.includes(now.status)) {
        if (!options.json) out(`— ${now.name} ${now.status}${now.error ? `: ${now.error}` : ""}`);
        process.exitCode = now.status === "succeeded" ? 0 : 1;
        return;
      }
      await new Promise((r) => setTimeout(r, Number(options.interval ?? 1000)));
    }
  });
}

export async function cancelCommand(ref: string, options: JsonOption) {
  await withDatabase(async (database) => {
    const result = await cancelRun(database, ref);
    if (options.json) return printJson(result);
    if (result.outcome === "cancelled") out(`cancelled ${result.name} (it had not started)`);
    else if (result.outcome === "requested") {
      const { kind } = await getRun(database.db, result.id);
      out(
        kind === "serve"
          ? `stopping ${result.name}: its worker closes the server within seconds`
          : `cancelling ${result.name}: its worker stops it within seconds, keeping its last checkpoint`,
      );
    } else out(`${result.name} had already ended (${result.status}); nothing to cancel`);
  });
}

// ---------------------------------------------------------------------------------------------------
// rlhf log — metrics from a run trained elsewhere
// ---------------------------------------------------------------------------------------------------

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
  const endpoint = options.endpoint ?? process.env.RLHF_INGEST_URL;
  if (endpoint) {
    const token = options.token ?? process.env.RLHF_TOKEN;
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

// ---------------------------------------------------------------------------------------------------
// rlhf tokens
// ---------------------------------------------------------------------------------------------------

export async function tokensCreateCommand(name: string, options: JsonOption) {
  await withDatabase(async (database) => {
    const token = await createApiToken(database, { name });
    if (options.json) return printJson(token);
    out(
      `token "${token.name}" (${token.id}):\n\n  ${token.token}\n\nshown once; only its hash is stored. Use it as: Authorization: Bearer <token>`,
    );
  });
}

export async function tokensListCommand(options: JsonOption) {
  await withDatabase(async (database) => {
    const tokens = await listApiTokens(database);
    if (options.json) return printJson(tokens);
    if (tokens.length === 0) return out("no tokens (create one: pnpm rlhf tokens create <name>)");
    out(
      table([
        ["ID", "NAME", "CREATED", "LAST USED", "REVOKED"],
        ...tokens.map((t) => [
          t.id,
          t.name,
          ago(t.createdAt),
          ago(t.lastUsedAt),
          t.revokedAt ? ago(t.revokedAt) : "-",
        ]),
      ]),
    );
  });
}

export async function tokensRevokeCommand(ref: string, options: JsonOption) {
  await withDatabase(async (database) => {
    const revoked = await revokeApiToken(database, ref);
    if (options.json) return printJson({ revoked });
    if (revoked === 0) throw new Error(`no active token with id or name "${ref}"`);
    out(`revoked ${revoked} token(s)`);
  });
}
