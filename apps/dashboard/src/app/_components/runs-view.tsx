"use client";

import { RUN_KINDS, RUN_STATUSES, type RunKind, type RunStatus } from "@rlhf/core/schema";
import { LIVE_REFETCH_MS } from "@rlhf/ui/query-client";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { type ReactNode, useDeferredValue, useState } from "react";
import { useTRPC } from "~/trpc/react";
import { timeAgo } from "./format";
import { PipelineChain } from "./pipeline-chain";
import { QueryError } from "./query-error";
import { RunsTable } from "./runs-table";

type Pipelines = NonNullable<ReturnType<typeof useRunList>["list"]["data"]>["pipelines"];

const toggle = <T,>(list: T[], item: T) =>
  list.includes(item) ? list.filter((x) => x !== item) : [...list, item];

/** The runs for the filters typed and pressed, polled while the page is open. */
function useRunList() {
  const trpc = useTRPC();
  const [search, setSearch] = useState("");
  const [kinds, setKinds] = useState<RunKind[]>([]);
  const [statuses, setStatuses] = useState<RunStatus[]>([]);
  const deferredSearch = useDeferredValue(search);
  const input = { search: deferredSearch || undefined, kinds, statuses, limit: 200 };
  const list = useQuery(
    trpc.runs.list.queryOptions(input, {
      refetchInterval: LIVE_REFETCH_MS,
      placeholderData: keepPreviousData,
    }),
  );
  const filtered = Boolean(deferredSearch || kinds.length || statuses.length);
  return { list, search, setSearch, kinds, setKinds, statuses, setStatuses, filtered };
}

/** The runs as a list for the caller's filters, with a chain view of their pipelines. */
export function RunsView({ aside }: { aside?: ReactNode }) {
  const runs = useRunList();
  const { list } = runs;
  const [selected, setSelected] = useState<string[]>([]);
  const now = list.dataUpdatedAt || Date.now();

  return (
    <div className="stack">
      <div className="layout">
        {list.data && list.data.pipelines.length > 0 ? (
          <PipelinesCard pipelines={list.data.pipelines} now={now} />
        ) : (
          <div />
        )}
        <aside>{aside}</aside>
      </div>

      <section className="card card--flush" aria-labelledby="runs-heading">
        <RunFilters runs={runs} />
        {list.isError && <QueryError error={list.error} what="runs" />}
        {list.isPending && <p className="empty">Loading runs…</p>}
        {list.data && list.data.runs.length === 0 && <EmptyState filtered={runs.filtered} />}
        {list.data && list.data.runs.length > 0 && (
          <RunsTable
            runs={list.data.runs}
            now={now}
            selected={selected}
            onSelect={(id) => setSelected((s) => toggle(s, id))}
          />
        )}
      </section>

      {selected.length > 0 && <SelectionBar selected={selected} clear={() => setSelected([])} />}
    </div>
  );
}

/** The latest pipelines, each as a chain of its stages. */
function PipelinesCard({ pipelines, now }: { pipelines: Pipelines; now: number }) {
  return (
    <section className="card card--flush" aria-labelledby="pipelines-heading">
      <div className="toolbar">
        <h2 id="pipelines-heading">Pipelines</h2>
        <span className="muted">each stage starts when the runs it consumes have succeeded</span>
      </div>
      {pipelines.slice(0, 4).map((pipeline) => (
        <div className="pipeline" key={pipeline.pipelineId}>
          <div className="pipeline__head">
            <span className="mono">pipeline {pipeline.pipelineId.slice(0, 8)}</span>
            <span>{pipeline.runs[0] && timeAgo(pipeline.runs[0].createdAt, now)}</span>
          </div>
          <PipelineChain runs={pipeline.runs} depth={pipeline.depth} />
        </div>
      ))}
    </section>
  );
}

/** Search by name or id; chips for kinds and statuses. */
function RunFilters({ runs }: { runs: ReturnType<typeof useRunList> }) {
  const { search, setSearch, kinds, setKinds, statuses, setStatuses } = runs;
  return (
    <div className="toolbar">
      <h2 id="runs-heading">Runs</h2>
      <input
        className="input"
        type="search"
        placeholder="Search by name or id"
        aria-label="Search runs"
        value={search}
        onChange={(e) => setSearch(e.target.value)}
      />
      <fieldset className="chips plain" aria-label="Kind">
        {RUN_KINDS.map((kind) => (
          <button
            key={kind}
            type="button"
            className="chip"
            aria-pressed={kinds.includes(kind)}
            onClick={() => setKinds((k) => toggle(k, kind))}
          >
            {kind}
          </button>
        ))}
      </fieldset>
      <fieldset className="chips plain" aria-label="Status">
        {RUN_STATUSES.map((status) => (
          <button
            key={status}
            type="button"
            className="chip"
            aria-pressed={statuses.includes(status)}
            onClick={() => setStatuses((s) => toggle(s, status))}
          >
            {status}
          </button>
        ))}
      </fieldset>
    </div>
  );
}

/** The runs ticked: clear them, or compare two or more. */
function SelectionBar({ selected, clear }: { selected: string[]; clear: () => void }) {
  const router = useRouter();
  return (
    <section className="compare-bar" aria-label="Selection">
      <span>
        {selected.length} run{selected.length === 1 ? "" : "s"} selected
      </span>
      <div className="row">
        <button type="button" className="btn btn--small" onClick={clear}>
          Clear
        </button>
        <button
          type="button"
          className="btn btn--small btn--primary"
          disabled={selected.length < 2}
          title={selected.length < 2 ? "Select at least two runs" : undefined}
          onClick={() => router.push(`/compare?runs=${selected.join(",")}`)}
        >
          Compare {selected.length >= 2 ? selected.length : ""} runs
        </button>
      </div>
    </section>
  );
}

function EmptyState({ filtered }: { filtered: boolean }) {
  if (filtered) return <p className="empty muted">No run matches these filters.</p>;
  return (
    <div className="empty">
      <p>
        <strong>No runs yet.</strong>
      </p>
      <p>
        <Link className="link" href="/launch">
          Launch a run
        </Link>{" "}
        (or the demo pipeline: pretraining → SFT → reward model → PPO on a tiny model), or from the repository
        root:
      </p>
      <pre className="command">pnpm rlhf pipeline --demo</pre>
      <p className="muted">A worker (`pnpm rlhf worker`, or `pnpm start`) picks up queued runs.</p>
    </div>
  );
}
