"use client";

import type { RunKind, RunStatus } from "@rlhf/core/schema";
import Link from "next/link";
import { useTranslations } from "next-intl";
import { Fragment } from "react";
import { StageDot } from "./status";

export interface ChainRun {
  id: string;
  name: string;
  kind: RunKind;
  status: RunStatus;
  step: number;
  totalSteps: number | null;
}

/**
 * A pipeline drawn as its chain: runs in columns by depth (a run sits one column right of its deepest
 * parent), so branches (PPO and DPO from the same SFT model) stand one above the other.
 */
export function PipelineChain({
  runs,
  depth,
  currentId,
  wrap = false,
}: {
  runs: ChainRun[];
  depth: Record<string, number>;
  currentId?: string;
  /** Wrap the columns onto more rows (a narrow card) instead of scrolling sideways (a table row). */
  wrap?: boolean;
}) {
  const t = useTranslations("PipelineChain");
  const tStatus = useTranslations("Status");
  const levels: ChainRun[][] = [];
  for (const run of runs) {
    const level = depth[run.id] ?? 0;
    levels[level] = [...(levels[level] ?? []), run];
  }
  return (
    <div className={`chain${wrap ? " chain--wrap" : ""}`} data-testid="pipeline-chain">
      {levels.map((level, i) => (
        <Fragment key={level[0]?.id ?? i}>
          {i > 0 && (
            <span className="chain__arrow" aria-hidden="true">
              →
            </span>
          )}
          <div className="chain__level">
            {level.map((run) => (
              <Link
                key={run.id}
                href={`/runs/${run.id}`}
                className="stage"
                aria-current={run.id === currentId ? "page" : undefined}
                title={t(run.totalSteps ? "titleSteps" : "title", {
                  name: run.name,
                  kind: run.kind,
                  status: tStatus(run.status),
                  step: run.step,
                  total: run.totalSteps ?? 0,
                })}
              >
                <StageDot status={run.status} />
                <span>{run.kind}</span>
                {run.status === "running" && run.totalSteps ? (
                  <span className="muted num">{Math.round((100 * run.step) / run.totalSteps)}%</span>
                ) : null}
              </Link>
            ))}
          </div>
        </Fragment>
      ))}
    </div>
  );
}
