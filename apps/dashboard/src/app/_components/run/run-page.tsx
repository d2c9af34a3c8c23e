"use client";

import { useFormat } from "@rlhf/ui/i18n/use-format";
import { LIVE_REFETCH_MS } from "@rlhf/ui/query-client";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useTranslations } from "next-intl";
import { useMemo } from "react";
import type { RouterOutputs } from "~/server/api/root";
import { useTRPC } from "~/trpc/react";
import { ChartsPanel } from "../charts/charts-panel";
import type { ReferenceLine } from "../charts/metric-chart";
import { runColor } from "../colors";
import { PipelineChain } from "../pipeline-chain";
import { QueryError } from "../query-error";
import { SamplesPanel } from "../samples/samples-panel";
import { isActive, StatusBadge } from "../status";
import { CancelButton } from "./cancel-button";
import { CheckpointsView } from "./checkpoints-view";
import { ConfigView } from "./config-view";
import { FactsCard } from "./facts-card";
import { LogTail } from "./log-tail";
import { SERVABLE_KINDS } from "./serve-button";
import { ServeCard } from "./serve-card";
import { RUN_TABS, type RunTab } from "./tabs";

type Detail = RouterOutputs["runs"]["detail"];

export function RunPage({ id, tab }: { id: string; tab: RunTab }) {
  const t = useTranslations("RunPage");
  const format = useFormat();
  const trpc = useTRPC();
  const detail = useQuery(
    trpc.runs.detail.queryOptions(
      { id },
      {
        refetchInterval: (q) =>
          q.state.data && !isActive(q.state.data.run.status) ? false : LIVE_REFETCH_MS,
      },
    ),
  );
  const run = detail.data?.run;
  const chartRuns = useMemo(
    () => (run ? [{ id: run.id, name: run.name, color: runColor(0), startedAt: run.startedAt }] : []),
    [run?.id, run?.name, run?.startedAt?.getTime()],
  );

  if (detail.isError) return <QueryError error={detail.error} what={t("what")} />;
  if (!detail.data || !run) return <p className="muted">{t("loading")}</p>;
  const live = isActive(run.status);
  const { checkpoints } = detail.data;

  return (
    <div>
      <div className="run-head">
        <div>
          <h1>
            {run.name} <span className="tag">{run.kind}</span> <StatusBadge status={run.status} />
          </h1>
          <p className="muted mono" style={{ margin: "4px 0 0" }}>
            {run.id}
          </p>
        </div>
        <div className="run-head__actions">
          <Link className="btn" href={`/compare?runs=${run.id}`}>
            {t("compare")}
          </Link>
          {run.kind !== "external" && (
            <Link className="btn" href={`/launch?from=${run.id}`}>
              {t("launchAgain")}
            </Link>
          )}
          {live && (
            <CancelButton
              runId={run.id}
              runName={run.name}
              running={run.status === "running"}
              serving={run.kind === "serve"}
            />
          )}
        </div>
      </div>

      {run.status === "failed" && (
        <div className="error-box" role="alert" data-testid="run-error">
          <strong>{t("failed")} </strong>
          {run.error ?? t("noError")}
          {run.logTail && <pre>{run.logTail}</pre>}
        </div>
      )}
      {run.cancelRequestedAt && run.status === "running" && (
        <p className="notice" style={{ marginBottom: 16 }}>
          {t("cancelRequested", { ago: format.timeAgo(run.cancelRequestedAt) })}
        </p>
      )}

      {run.kind === "serve" && <ServeCard run={run} />}

      <div className="summary-grid">
        <ProgressCard detail={detail.data} now={detail.dataUpdatedAt} />
        <FactsCard facts={detail.data.facts} />
        <LineageCard detail={detail.data} />
      </div>

      <nav className="tabs" aria-label={t("tabsLabel")}>
        {RUN_TABS.map((name) => (
          <Link
            key={name}
            href={`/runs/${run.id}?tab=${name}`}
            scroll={false}
            aria-current={name === tab ? "page" : undefined}
            replace
          >
            {name === "checkpoints"
              ? t("tabs.checkpointsCount", { count: checkpoints.length })
              : t(`tabs.${name}`)}
          </Link>
        ))}
      </nav>

      {tab === "charts" && (
        <ChartsPanel
          runs={chartRuns}
          live={live}
          attempt={String(run.attempts)}
          references={baselineLines(detail.data.facts, (model, bits) => t("baseline", { model, bits }))}
        />
      )}
      {tab === "samples" && <SamplesPanel runId={run.id} live={live} config={run.config} />}
      {tab === "logs" && <LogTail runId={run.id} live={live} />}
      {tab === "config" && <ConfigView runId={run.id} kind={run.kind} config={run.config} />}
      {tab === "checkpoints" && (
        <CheckpointsView
          checkpoints={checkpoints}
          serveRunId={SERVABLE_KINDS.includes(run.kind) ? run.id : undefined}
        />
      )}
    </div>
  );
}

function ProgressCard({ detail, now }: { detail: Detail; now: number }) {
  const t = useTranslations("RunPage.progress");
  const format = useFormat();
  const { run, keys } = detail;
  // The run's row is updated with its heartbeat; its metrics, every second: show whichever is further.
  const step = Math.max(run.step, ...keys.map((k) => k.step));
  const fraction = run.totalSteps ? Math.min(1, step / run.totalSteps) : undefined;
  const end = run.finishedAt?.getTime() ?? now;
  const elapsed = run.startedAt ? end - run.startedAt.getTime() : null;
  // ETA from the pace so far (a resumed run's pace includes its pause: an upper bound).
  const eta =
    run.status === "running" && run.totalSteps && step > 0 && elapsed
      ? (elapsed / step) * (run.totalSteps - step)
      : null;
  const tokensPerSec = keys.find((k) => k.key === "perf/tokens_per_sec");
  return (
    <section className="card" aria-labelledby="progress-heading" data-testid="progress">
      <div className="card__head">
        <h2 id="progress-heading">{t("heading")}</h2>
        <span className="muted">
          {run.backend ?? "—"}
          {run.device ? ` · ${run.device}` : ""}
        </span>
      </div>
      <div className="row" style={{ marginBottom: 8 }}>
        <span className="big-number" data-testid="step">
          {format.integer(step)}
          {run.totalSteps ? <span className="muted"> / {format.integer(run.totalSteps)}</span> : null}
        </span>
        <span className="muted">{t("steps")}</span>
      </div>
      {fraction !== undefined && (
        <div
          className="progress"
          role="progressbar"
          aria-valuenow={Math.round(fraction * 100)}
          style={{ marginBottom: 10 }}
        >
          <div className="progress__bar" style={{ width: `${fraction * 100}%` }} />
        </div>
      )}
      <dl className="kv">
        <dt>{t("eta")}</dt>
        <dd>{eta !== null ? format.duration(eta) : "—"}</dd>
        <dt>{t("tokensPerSec")}</dt>
        <dd>{tokensPerSec ? format.metricValue(tokensPerSec.value) : "—"}</dd>
        <dt>{t("elapsed")}</dt>
        <dd>{elapsed !== null ? format.duration(elapsed) : "—"}</dd>
        <dt>{t("created")}</dt>
        <dd title={format.dateTime(run.createdAt)}>{format.timeAgo(run.createdAt, now)}</dd>
        <dt>{t("worker")}</dt>
        <dd className="mono">
          {run.workerId ?? "—"}
          {run.attempts > 1 ? ` ${t("attempt", { attempt: run.attempts })}` : ""}
        </dd>
      </dl>
    </section>
  );
}

function LineageCard({ detail }: { detail: Detail }) {
  const t = useTranslations("RunPage.lineage");
  const { inputs, dependents, pipeline, run } = detail;
  return (
    <section className="card" aria-labelledby="lineage-heading">
      <div className="card__head">
        <h2 id="lineage-heading">{t("heading")}</h2>
      </div>
      {pipeline && pipeline.runs.length > 1 && (
        <div style={{ marginBottom: 12 }}>
          <PipelineChain runs={pipeline.runs} depth={pipeline.depth} currentId={run.id} wrap />
        </div>
      )}
      <dl className="kv">
        <dt>{t("inputs")}</dt>
        <dd>
          {inputs.length === 0
            ? "—"
            : inputs.map((i) => (
                <div key={`${i.id}-${i.role}`}>
                  <span className="muted">{i.role}: </span>
                  <Link className="link" href={`/runs/${i.id}`}>
                    {i.name}
                  </Link>
                </div>
              ))}
        </dd>
        <dt>{t("usedBy")}</dt>
        <dd>
          {dependents.length === 0
            ? "—"
            : dependents.map((d) => (
                <div key={`${d.id}-${d.role}`}>
                  <Link className="link" href={`/runs/${d.id}`}>
                    {d.name}
                  </Link>
                  <span className="muted"> ({d.role})</span>
                </div>
              ))}
        </dd>
      </dl>
    </section>
  );
}

/** The n-gram baseline as a horizontal line on the transformer's bits-per-byte chart ("5-gram: 0.36 bits/byte"). */
function baselineLines(
  facts: { ngramBitsPerByte: number | null; ngramLabel: string },
  label: (model: string, bits: string) => string,
): Record<string, ReferenceLine[]> {
  if (facts.ngramBitsPerByte === null) return {};
  return {
    "eval/bits_per_byte": [
      { label: label(facts.ngramLabel, facts.ngramBitsPerByte.toFixed(2)), value: facts.ngramBitsPerByte },
    ],
  };
}
