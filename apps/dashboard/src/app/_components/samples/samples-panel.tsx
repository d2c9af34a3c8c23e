"use client";

import { LIVE_REFETCH_MS } from "@rlhf/ui/query-client";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useDeferredValue, useEffect, useState } from "react";
import type { RouterOutputs } from "~/server/api/root";
import { useTRPC } from "~/trpc/react";
import { metricValue } from "../format";
import { QueryError } from "../query-error";
import { SideBySide } from "./side-by-side";

type Sample = RouterOutputs["samples"]["list"][number];

/** A run's samples: a slider over the steps that have them, a search, and two steps side by side. */
export function SamplesPanel({ runId, live }: { runId: string; live: boolean }) {
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

  if (steps.isError) return <QueryError error={steps.error} what="samples" />;
  if (steps.isPending) return <p className="muted">Loading samples…</p>;
  if (stops.length === 0)
    return (
      <p className="empty muted">
        {live ? "No samples yet: they appear at each evaluation." : "This run stored no samples."}
      </p>
    );

  return (
    <div className="stack" data-testid="samples">
      <div className="card">
        <div className="row">
          <div className="step-slider">
            <label className="label" htmlFor="sample-step">
              Step
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
              aria-valuetext={step !== undefined ? `step ${step}` : undefined}
            />
            <strong className="num" data-testid="sample-step">
              {step?.toLocaleString("en")}
            </strong>
            <span className="muted num">
              ({index !== null ? index + 1 : 0} of {stops.length} steps)
            </span>
          </div>
          <input
            className="input"
            type="search"
            placeholder="Search prompts and responses"
            aria-label="Search samples"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
          <fieldset className="segmented plain" aria-label="View">
            <button type="button" aria-pressed={mode === "step"} onClick={() => setMode("step")}>
              One step
            </button>
            <button type="button" aria-pressed={mode === "compare"} onClick={() => setMode("compare")}>
              Two steps
            </button>
          </fieldset>
          {mode === "compare" && (
            <label className="label">
              against step
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
          <SideBySide rows={sideBySide.data} left={`step ${fromStep}`} right={`step ${step}`} />
        )
      ) : (
        <SamplesTable samples={list.data ?? []} showStep={Boolean(query)} />
      )}
    </div>
  );
}

function SamplesTable({ samples, showStep }: { samples: Sample[]; showStep: boolean }) {
  if (samples.length === 0) return <p className="empty muted">No samples match.</p>;
  return (
    <div className="card card--flush">
      <table className="table samples-table" data-testid="samples-table">
        <thead>
          <tr>
            {showStep && <th>Step</th>}
            <th>Prompt</th>
            <th>Response</th>
            <th className="metric-cell">Reward</th>
            <th className="metric-cell">KL</th>
          </tr>
        </thead>
        <tbody>
          {samples.map((s) => (
            <tr key={s.id}>
              {showStep && <td className="num">{s.step}</td>}
              <td className="sample-text sample-prompt">{s.prompt}</td>
              <td className="sample-text">{s.response}</td>
              <td className="metric-cell">{metricValue(s.reward)}</td>
              <td className="metric-cell">{metricValue(s.kl)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
