"use client";

import { useFormat } from "@rlhf/ui/i18n/use-format";
import { useTranslations } from "next-intl";
import type { RouterOutputs } from "~/server/api/root";

type Row = RouterOutputs["samples"]["sideBySide"][number];
type Sample = Row["a"][number];

function Responses({ samples }: { samples: Sample[] }) {
  const t = useTranslations("SideBySide");
  const { metricValue } = useFormat();
  if (samples.length === 0) return <span className="muted">—</span>;
  return (
    <>
      {samples.map((s) => (
        <div key={s.id} className="response-card">
          <div className="sample-text">{s.response}</div>
          <div className="response-card__meta">
            {t("meta", { reward: metricValue(s.reward), kl: metricValue(s.kl) })}
          </div>
        </div>
      ))}
    </>
  );
}

/** The same prompts answered by two sides (two steps of a run, or two runs). */
export function SideBySide({ rows, left, right }: { rows: Row[]; left: string; right: string }) {
  const t = useTranslations("SideBySide");
  if (rows.length === 0) return <p className="empty muted">{t("none")}</p>;
  return (
    <div className="card card--flush">
      <table className="table samples-table" data-testid="side-by-side">
        <thead>
          <tr>
            <th style={{ width: "22%" }}>{t("prompt")}</th>
            <th>{left}</th>
            <th>{right}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.prompt}>
              <td className="sample-text sample-prompt">{row.prompt}</td>
              <td>
                <Responses samples={row.a} />
              </td>
              <td>
                <Responses samples={row.b} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
