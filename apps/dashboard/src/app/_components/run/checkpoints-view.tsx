import Link from "next/link";
import type { RouterOutputs } from "~/server/api/root";
import { dateTime, metricValue } from "../format";
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
  if (checkpoints.length === 0) return <p className="empty muted">No checkpoints yet.</p>;
  return (
    <div className="card card--flush">
      <div className="table-scroll">
        <table className="table" data-testid="checkpoints">
          <thead>
            <tr>
              <th>Step</th>
              <th>Saved</th>
              <th>Metrics</th>
              <th>Directory</th>
              <th>Files</th>
              {serveRunId && <th>Serve</th>}
              {serveRunId && <th>Playground</th>}
            </tr>
          </thead>
          <tbody>
            {checkpoints.map((c) => (
              <tr key={c.id}>
                <td className="num">
                  {c.step.toLocaleString("en")} {c.isFinal && <span className="tag">final</span>}
                </td>
                <td title={dateTime(c.createdAt)}>{c.createdAt.toLocaleTimeString("en")}</td>
                <td className="mono">
                  {Object.entries(c.metrics)
                    .map(([k, v]) => `${k} ${metricValue(v)}`)
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
                      aria-label={`Step ${c.step} in the playground`}
                    >
                      Try it
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
