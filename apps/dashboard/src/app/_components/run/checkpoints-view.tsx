"use client";

import { useFormat } from "@rlhf/ui/i18n/use-format";
import Link from "next/link";
import { useTranslations } from "next-intl";
import type { RouterOutputs } from "~/server/api/root";
import { ServeButton } from "./serve-button";

type Checkpoint = RouterOutputs["runs"]["detail"]["checkpoints"][number];

/**
 * `serveRunId`: the run's id when its checkpoints are policies, which get a Serve action each and a link to
 * run them in the browser on the playground.
 */
export function CheckpointsView({
  checkpoints,
  serveRunId,
}: {
  checkpoints: Checkpoint[];
  serveRunId?: string;
}) {
  const t = useTranslations("CheckpointsView");
  const format = useFormat();
  if (checkpoints.length === 0) return <p className="empty muted">{t("none")}</p>;
  return (
    <div className="card card--flush">
      <div className="table-scroll">
        <table className="table" data-testid="checkpoints">
          <thead>
            <tr>
              <th>{t("step")}</th>
              <th>{t("saved")}</th>
              <th>{t("metrics")}</th>
              <th>{t("directory")}</th>
              <th>{t("files")}</th>
              {serveRunId && <th>{t("serve")}</th>}
              {serveRunId && <th>{t("playground")}</th>}
            </tr>
          </thead>
          <tbody>
            {checkpoints.map((c) => (
              <tr key={c.id}>
                <td className="num">
                  {format.integer(c.step)} {c.isFinal && <span className="tag">{t("final")}</span>}
                </td>
                <td title={format.dateTime(c.createdAt)}>{c.createdAt.toLocaleTimeString(format.locale)}</td>
                <td className="mono">
                  {Object.entries(c.metrics)
                    .map(([k, v]) => `${k} ${format.metricValue(v)}`)
                    .join(" · ") || "—"}
                </td>
                <td className="mono wrap muted">{c.path}</td>
                <td className="row">
                  {(["config.json", "model.safetensors", "tokenizer.json"] as const).map((file) => (
                    <a key={file} className="link mono" href={`/api/checkpoints/${c.id}/${file}`} download>
                      {file}
                    </a>
                  ))}
                </td>
                {serveRunId && (
                  <td>
                    <ServeButton runId={serveRunId} step={c.step} />
                  </td>
                )}
                {serveRunId && (
                  <td>
                    <Link
                      className="link"
                      href={`/playground?run=${serveRunId}&checkpoint=${c.id}`}
                      aria-label={t("tryLabel", { step: c.step })}
                    >
                      {t("try")}
                    </Link>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
