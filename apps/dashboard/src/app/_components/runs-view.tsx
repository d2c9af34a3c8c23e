"use client";

import { RUN_KINDS, RUN_STATUSES, type RunKind, type RunStatus } from "@rlhf/core/schema";
import { useFormat } from "@rlhf/ui/i18n/use-format";
import { LIVE_REFETCH_MS } from "@rlhf/ui/query-client";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useTranslations } from "next-intl";
import { type ReactNode, useDeferredValue, useState } from "react";
import { useTRPC } from "~/trpc/react";
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
  const t = useTranslations("RunsView");
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
        {list.isError && <QueryError error={list.error} what={t("what")} />}
        {list.isPending && <p className="empty">{t("loading")}</p>}
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
  const t = useTranslations("RunsView");
  const format = useFormat();
  return (
    <section className="card card--flush" aria-labelledby="pipelines-heading">
      <div className="toolbar">
        <h2 id="pipelines-heading">{t("pipelines")}</h2>
        <span className="muted">{t("pipelinesHint")}</span>
      </div>
      {pipelines.slice(0, 4).map((pipeline) => (
        <div className="pipeline" key={pipeline.pipelineId}>
          <div className="pipeline__head">
            <span className="mono">{t("pipeline", { id: pipeline.pipelineId.slice(0, 8) })}</span>
            <span>{pipeline.runs[0] && format.timeAgo(pipeline.runs[0].createdAt, now)}</span>
          </div>
          <PipelineChain runs={pipeline.runs} depth={pipeline.depth} />
        </div>
      ))}
    </section>
  );
}

/** Search by name or id; chips for kinds and statuses. */
function RunFilters({ runs }: { runs: ReturnType<typeof useRunList> }) {
  const t = useTranslations("RunsView");
  const tStatus = useTranslations("Status");
  const { search, setSearch, kinds, setKinds, statuses, setStatuses } = runs;
  return (
    <div className="toolbar">
      <h2 id="runs-heading">{t("runs")}</h2>
      <input
        className="input"
        type="search"
        placeholder={t("searchPlaceholder")}
        aria-label={t("search")}
        value={search}
        onChange={(e) => setSearch(e.target.value)}
      />
      <Chips label={t("kind")} values={RUN_KINDS} chosen={kinds} setChosen={setKinds} />
      <Chips
        label={t("status")}
        values={RUN_STATUSES}
        chosen={statuses}
        setChosen={setStatuses}
        show={(status) => tStatus(status)}
      />
    </div>
  );
}

/** A row of toggle chips, one per value: the ones pressed filter the list. */
function Chips<T extends string>({
  label,
  values,
  chosen,
  setChosen,
  show = (value) => value,
}: {
  label: string;
  values: readonly T[];
  chosen: T[];
  setChosen: (update: (chosen: T[]) => T[]) => void;
  show?: (value: T) => string;
}) {
  return (
    <fieldset className="chips plain" aria-label={label}>
      {values.map((value) => (
        <button
          key={value}
          type="button"
          className="chip"
          aria-pressed={chosen.includes(value)}
          onClick={() => setChosen((c) => toggle(c, value))}
        >
          {show(value)}
        </button>
      ))}
    </fieldset>
  );
}

/** The runs ticked: clear them, or compare two or more. */
function SelectionBar({ selected, clear }: { selected: string[]; clear: () => void }) {
  const t = useTranslations("RunsView");
  const router = useRouter();
  return (
    <section className="compare-bar" aria-label={t("selection")}>
      <span>{t("selected", { count: selected.length })}</span>
      <div className="row">
        <button type="button" className="btn btn--small" onClick={clear}>
          {t("clear")}
        </button>
        <button
          type="button"
          className="btn btn--small btn--primary"
          disabled={selected.length < 2}
          title={selected.length < 2 ? t("selectTwo") : undefined}
          onClick={() => router.push(`/compare?runs=${selected.join(",")}`)}
        >
          {t("compare", { count: selected.length })}
        </button>
      </div>
    </section>
  );
}

function EmptyState({ filtered }: { filtered: boolean }) {
  const t = useTranslations("RunsView.empty");
  if (filtered) return <p className="empty muted">{t("filtered")}</p>;
  return (
    <div className="empty">
      <p>
        <strong>{t("none")}</strong>
      </p>
      <p>
        {t.rich("launch", {
          link: (chunks) => (
            <Link className="link" href="/launch">
              {chunks}
            </Link>
          ),
        })}
      </p>
      <pre className="command">pnpm rlhf pipeline --demo</pre>
      <p className="muted">{t.rich("worker", { code: (chunks) => <code>{chunks}</code> })}</p>
    </div>
  );
}
