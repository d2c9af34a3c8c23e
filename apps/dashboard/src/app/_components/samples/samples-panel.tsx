"use client";

import { useFormat } from "@rlhf/ui/i18n/use-format";
import { LIVE_REFETCH_MS } from "@rlhf/ui/query-client";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { useDeferredValue, useEffect, useState } from "react";
import type { RouterOutputs } from "~/server/api/root";
import { useTRPC } from "~/trpc/react";
import { QueryError } from "../query-error";
import { SideBySide } from "./side-by-side";

type Sample = RouterOutputs["samples"]["list"][number];

/** A run's samples: a slider over the steps that have them, a search, and two steps side by side. */
export function SamplesPanel({
  runId,
  live,
  config,
}: {
  runId: string;
  live: boolean;
  /** The run's config: its reward and evaluation functions order and label the score columns. */
  config?: Record<string, unknown>;
}) {
  const t = useTranslations("SamplesPanel");
  const format = useFormat();
  const trpc = useTRPC();
  const steps = useQuery(
    trpc.samples.steps.queryOptions({ runId }, { refetchInterval: live ? LIVE_REFETCH_MS : false }),
  );
  const stops = steps.data ?? [];
  const [index, setIndex] = useState<number | null>(null);
  const [followLatest, setFollowLatest] = useState(true);
  const [search, setSearch] = useState("");
  const [mode, setMode] = useState<"step" | "compare">("step");
  const [compareFrom, setCompareFrom] = useState<number | null>(null);
  const query = useDeferredValue(search.trim());

  // The slider follows the newest step while the run writes, until the reader moves it.
  useEffect(() => {
    if (stops.length > 0 && (followLatest || index === null)) setIndex(stops.length - 1);
  }, [stops.length, followLatest, index]);

  const step = index !== null ? stops[index]?.step : undefined;
  const list = useQuery(
    trpc.samples.list.queryOptions(query ? { runId, search: query } : { runId, step: step ?? 0 }, {
      enabled: Boolean(query) || step !== undefined,
      placeholderData: keepPreviousData,
    }),
  );
  const fromStep = compareFrom ?? stops[0]?.step;
  const sideBySide = useQuery(
    trpc.samples.sideBySide.queryOptions(
      { a: { runId, step: fromStep ?? 0 }, b: { runId, step: step ?? 0 }, search: query || undefined },
      {
        enabled: mode === "compare" && fromStep !== undefined && step !== undefined,
        placeholderData: keepPreviousData,
      },
    ),
  );

  if (steps.isError) return <QueryError error={steps.error} what={t("what")} />;
  if (steps.isPending) return <p className="muted">{t("loading")}</p>;
  if (stops.length === 0) return <p className="empty muted">{live ? t("noneYet") : t("none")}</p>;

  return (
    <div className="stack" data-testid="samples">
      <div className="card">
        <div className="row">
          <div className="step-slider">
            <label className="label" htmlFor="sample-step">
              {t("step")}
            </label>
            <input
              id="sample-step"
              type="range"
              min={0}
              max={stops.length - 1}
              value={index ?? 0}
              onChange={(e) => {
                const i = Number(e.target.value);
                setIndex(i);
                setFollowLatest(i === stops.length - 1);
              }}
              aria-valuetext={step !== undefined ? t("stepN", { step }) : undefined}
            />
            <strong className="num" data-testid="sample-step">
              {step !== undefined ? format.integer(step) : null}
            </strong>
            <span className="muted num">
              {t("ofSteps", { index: index !== null ? index + 1 : 0, count: stops.length })}
            </span>
          </div>
          <input
            className="input"
            type="search"
            placeholder={t("searchPlaceholder")}
            aria-label={t("search")}
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
          <fieldset className="segmented plain" aria-label={t("view")}>
            <button type="button" aria-pressed={mode === "step"} onClick={() => setMode("step")}>
              {t("oneStep")}
            </button>
            <button type="button" aria-pressed={mode === "compare"} onClick={() => setMode("compare")}>
              {t("twoSteps")}
            </button>
          </fieldset>
          {mode === "compare" && (
            <label className="label">
              {t("against")}
              <select
                className="select"
                value={fromStep}
                onChange={(e) => setCompareFrom(Number(e.target.value))}
              >
                {stops.map((s) => (
                  <option key={s.step} value={s.step}>
                    {s.step}
                  </option>
                ))}
              </select>
            </label>
          )}
        </div>
      </div>

      {mode === "compare" ? (
        sideBySide.data && (
          <SideBySide
            rows={sideBySide.data}
            left={t("stepN", { step: fromStep ?? 0 })}
            right={t("stepN", { step: step ?? 0 })}
          />
        )
      ) : (
        <SamplesTable samples={list.data ?? []} showStep={Boolean(query)} terms={termNames(config)} />
      )}
    </div>
  );
}

/** Keys of a sample's `extra` that are not a reward function's score. */
const NOT_SCORES = new Set(["group", "advantage", "ended"]);

interface TermNames {
  rewards: string[];
  evaluation: string[];
}

/** The names of a config's reward and evaluation functions (a parsed config names every term). */
function termNames(config: Record<string, unknown> | undefined): TermNames {
  const names = (list: unknown) =>
    Array.isArray(list) ? list.flatMap((t) => (typeof t?.name === "string" ? [t.name as string] : [])) : [];
  return { rewards: names(config?.rewards), evaluation: names(config?.evaluation) };
}

/**
 * The per-function score columns of some samples: every numeric key of `extra` but the group and the
 * advantage (GRPO/RLOO log each reward and evaluation function's score under its name) — the optimised
 * functions first, then the evaluation ones, in config order; any other key after them, sorted.
 */
export function scoreColumns(samples: Sample[], terms: TermNames): string[] {
  const keys = new Set<string>();
  for (const s of samples)
    for (const [key, value] of Object.entries(s.extra ?? {}))
      if (!NOT_SCORES.has(key) && typeof value === "number") keys.add(key);
  const ordered = [...terms.rewards, ...terms.evaluation].filter((k) => keys.has(k));
  return [...ordered, ...[...keys].filter((k) => !ordered.includes(k)).sort()];
}

/** Samples in runs of the same `extra.group` (the prompt a GRPO/RLOO group of completions answers). */
function groupsOf(samples: Sample[]): { group: number | null; samples: Sample[] }[] {
  const groups: { group: number | null; samples: Sample[] }[] = [];
  for (const s of samples) {
    const group = typeof s.extra?.group === "number" ? s.extra.group : null;
    const last = groups.at(-1);
    if (last && last.group === group && (group === null || last.samples[0]!.step === s.step))
      last.samples.push(s);
    else groups.push({ group, samples: [s] });
  }
  return groups;
}

function SamplesTable({
  samples,
  showStep,
  terms,
}: {
  samples: Sample[];
  showStep: boolean;
  terms: TermNames;
}) {
  const t = useTranslations("SamplesPanel.table");
  const { metricValue } = useFormat();
  if (samples.length === 0) return <p className="empty muted">{t("none")}</p>;
  const scores = scoreColumns(samples, terms);
  const advantage = samples.some((s) => typeof s.extra?.advantage === "number");
  const grouped = samples.some((s) => typeof s.extra?.group === "number");
  const columns = (showStep ? 1 : 0) + (grouped ? 1 : 2) + 2 + scores.length + (advantage ? 1 : 0);
  const numberOf = (s: Sample, key: string) =>
    typeof s.extra?.[key] === "number" ? (s.extra[key] as number) : null;
  return (
    <div className="card card--flush">
      <table className="table samples-table" data-testid="samples-table">
        <thead>
          <tr>
            {showStep && <th>{t("step")}</th>}
            {!grouped && <th>{t("prompt")}</th>}
            <th>{grouped ? t("completion") : t("response")}</th>
            <th className="metric-cell" title={t("rewardTitle")}>
              {t("reward")}
            </th>
            {scores.map((key) => (
              <th
                key={key}
                className="metric-cell"
                title={
                  terms.evaluation.includes(key) ? t("evaluationTitle", { key }) : t("scoreTitle", { key })
                }
              >
                {key}
                {terms.evaluation.includes(key) && <span className="muted"> {t("eval")}</span>}
              </th>
            ))}
            {advantage && <th className="metric-cell">{t("advantage")}</th>}
            <th className="metric-cell">{t("kl")}</th>
          </tr>
        </thead>
        {groupsOf(samples).map(({ group, samples: rows }) => (
          <tbody key={rows[0]!.id} data-group={group ?? undefined}>
            {group !== null && (
              <tr className="sample-group" data-testid="sample-group">
                <td colSpan={columns}>
                  {t.rich("group", {
                    group: group + 1,
                    count: rows.length,
                    prompt: () => <span className="sample-prompt">{rows[0]!.prompt}</span>,
                  })}
                </td>
              </tr>
            )}
            {rows.map((s) => (
              <tr key={s.id}>
                {showStep && <td className="num">{s.step}</td>}
                {group === null && <td className="sample-text sample-prompt">{s.prompt}</td>}
                <td className="sample-text">
                  {s.response}
                  {s.extra?.ended === false && (
                    <span className="muted" title={t("cutTitle")}>
                      {" "}
                      {t("cut")}
                    </span>
                  )}
                </td>
                <td className="metric-cell">{metricValue(s.reward)}</td>
                {scores.map((key) => (
                  <td key={key} className="metric-cell" data-score={key}>
                    {metricValue(numberOf(s, key))}
                  </td>
                ))}
                {advantage && <td className="metric-cell">{metricValue(numberOf(s, "advantage"))}</td>}
                <td className="metric-cell">{metricValue(s.kl)}</td>
              </tr>
            ))}
          </tbody>
        ))}
      </table>
    </div>
  );
}
