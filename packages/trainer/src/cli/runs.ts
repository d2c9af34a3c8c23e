/**
 * `rlhf runs list|show|logs|cancel`: the runs of the queue and of `rlhf train`, human-readable by default,
 * `--json` for scripts (one JSON document, or one per line for a stream of log lines).
 */
import { cancelRun, getRun, type LogLine, listRuns, runDetail, runLogLines } from "@rlhf/core/queue";
import { RUN_STATUSES, type RunStatus } from "@rlhf/core/schema";
import { ago, duration, formatNumber, type JsonOption, out, printJson, table, withDatabase } from "./output";

const FINAL: RunStatus[] = ["succeeded", "failed", "cancelled"];

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
