"use client";

import type { RunKind } from "@rlhf/core/schema";
import { useQuery } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { useState } from "react";
import { configDiff } from "~/lib/config-diff";
import { useTRPC } from "~/trpc/react";

const show = (value: unknown) => (value === undefined ? "—" : JSON.stringify(value));

/** A run's config, or its diff against another run's (W&B's run comparer, with "differences only"). */
export function ConfigView({
  runId,
  kind,
  config,
}: {
  runId: string;
  kind: RunKind;
  config: Record<string, unknown>;
}) {
  const t = useTranslations("ConfigView");
  const trpc = useTRPC();
  const [otherId, setOtherId] = useState("");
  const [diffOnly, setDiffOnly] = useState(true);
  const candidates = useQuery(trpc.runs.list.queryOptions({ kinds: [kind], statuses: [], limit: 200 }));
  const other = useQuery(trpc.runs.configs.queryOptions({ ids: [otherId] }, { enabled: otherId !== "" }));
  const otherConfig = other.data?.[0];
  const rows = otherConfig ? configDiff(config, otherConfig.config) : [];
  const shown = diffOnly ? rows.filter((r) => !r.same) : rows;

  return (
    <div className="stack">
      <div className="row">
        <label className="label">
          {t("diffAgainst")}
          <select
            className="select"
            value={otherId}
            onChange={(e) => setOtherId(e.target.value)}
            aria-label={t("diffAgainstRun")}
          >
            <option value="">{t("noOther")}</option>
            {(candidates.data?.runs ?? [])
              .filter((r) => r.id !== runId)
              .map((r) => (
                <option key={r.id} value={r.id}>
                  {r.name} ({r.id.slice(0, 8)})
                </option>
              ))}
          </select>
        </label>
        {otherConfig && (
          <label className="label">
            <input type="checkbox" checked={diffOnly} onChange={(e) => setDiffOnly(e.target.checked)} />{" "}
            {t("differencesOnly")}
          </label>
        )}
      </div>
      {otherConfig ? (
        <div className="card card--flush">
          <table className="table" data-testid="config-diff">
            <thead>
              <tr>
                <th>{t("field")}</th>
                <th>{t("thisRun")}</th>
                <th>{otherConfig.name}</th>
              </tr>
            </thead>
            <tbody>
              {shown.length === 0 && (
                <tr>
                  <td colSpan={3} className="muted">
                    {t("same")}
                  </td>
                </tr>
              )}
              {shown.map((row) => (
                <tr key={row.path} className={row.same ? "" : "diff-row--changed"}>
                  <td className="mono">{row.path}</td>
                  <td className="mono wrap">{show(row.left)}</td>
                  <td className="mono wrap">{show(row.right)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <pre className="code" data-testid="config">
          {JSON.stringify(config, null, 2)}
        </pre>
      )}
    </div>
  );
}
