"use client";

import Link from "next/link";
import { useState } from "react";
import { serveExamples } from "~/lib/serve-examples";
import type { RouterOutputs } from "~/server/api/root";

type Run = RouterOutputs["runs"]["detail"]["run"];

/** A serve run: where it answers, how to call it, and what it served. The Stop button is the run's cancel. */
export function ServeCard({ run }: { run: Run }) {
  const [example, setExample] = useState<"curl" | "python" | "javascript">("curl");
  const endpoint = typeof run.summary.endpoint === "string" ? run.summary.endpoint : null;
  const model = typeof run.summary.model === "string" ? run.summary.model : null;
  const checkpoint = typeof run.config.checkpoint === "string" ? run.config.checkpoint : null;
  const servedRun = checkpoint?.startsWith("run:") ? checkpoint.slice(4) : null;
  const step = typeof run.config.step === "number" ? run.config.step : null;
  // Admins get the key; others see "(hidden)" from the server, and the examples read it from the environment.
  const apiKey =
    typeof run.config.apiKey === "string" && run.config.apiKey !== "(hidden)" ? run.config.apiKey : undefined;
  const keyHidden = run.config.apiKey === "(hidden)";
  const live = run.status === "running" && endpoint !== null;

  return (
    <section
      className="card"
      aria-labelledby="serve-heading"
      data-testid="serve-card"
      style={{ marginBottom: 16 }}
    >
      <div className="card__head">
        <h2 id="serve-heading">OpenAI-compatible endpoint</h2>
        <span className="muted">
          {servedRun ? (
            <>
              serving{" "}
              <Link className="link" href={`/runs/${servedRun}?tab=checkpoints`}>
                {model ?? servedRun}
              </Link>
              {step !== null ? ` at step ${step.toLocaleString("en")}` : ""}
            </>
          ) : (
            checkpoint
          )}
        </span>
      </div>
      {run.status === "queued" && (
        <p className="muted">
          Waiting for a worker with a free serving slot (`pnpm rlhf worker --serve-slots`).
        </p>
      )}
      {run.status === "running" && endpoint === null && <p className="muted">Loading the model…</p>}
      {endpoint !== null && (
        <dl className="kv">
          <dt>Base URL</dt>
          <dd className="row">
            <code className="mono" data-testid="serve-endpoint">
              {endpoint}
            </code>
            {live && <CopyButton text={endpoint} label="Copy URL" />}
          </dd>
          <dt>Model</dt>
          <dd className="mono">{model ?? "—"}</dd>
          {(apiKey || keyHidden) && (
            <>
              <dt>API key</dt>
              <dd className="row">
                {apiKey ? (
                  <>
                    <code className="mono" data-testid="serve-api-key">
                      {apiKey}
                    </code>
                    <CopyButton text={apiKey} label="Copy key" />
                  </>
                ) : (
                  <span className="muted">shown to admins only</span>
                )}
              </dd>
            </>
          )}
          {!live && (
            <>
              <dt>Served</dt>
              <dd>
                {typeof run.summary.requests === "number"
                  ? `${run.summary.requests.toLocaleString("en")} requests, ${Number(run.summary.generated_tokens ?? 0).toLocaleString("en")} tokens; stopped`
                  : "stopped"}
              </dd>
            </>
          )}
        </dl>
      )}
      {live && model !== null && (
        <div style={{ marginTop: 12 }}>
          <div className="row" role="tablist" aria-label="Example">
            {(["curl", "python", "javascript"] as const).map((kind) => (
              <button
                key={kind}
                type="button"
                role="tab"
                aria-selected={example === kind}
                className={`btn btn--small${example === kind ? " btn--primary" : ""}`}
                onClick={() => setExample(kind)}
              >
                {kind === "curl" ? "curl" : kind === "python" ? "Python (openai)" : "JavaScript (openai)"}
              </button>
            ))}
            <CopyButton text={serveExamples(endpoint, model, apiKey)[example]} label="Copy" />
          </div>
          <pre
            className="mono"
            data-testid={`serve-example-${example}`}
            style={{
              overflowX: "auto",
              fontSize: 12,
              padding: 10,
              marginTop: 8,
              background: "var(--bg)",
              borderRadius: 8,
            }}
          >
            {serveExamples(endpoint, model, apiKey)[example]}
          </pre>
          <p className="muted" style={{ margin: 0 }}>
            Any OpenAI client works: completions, chat completions and streaming. See docs/serving.md.
          </p>
        </div>
      )}
    </section>
  );
}

function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="btn btn--small"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => {
          setCopied(true);
          setTimeout(() => setCopied(false), 1500);
        });
      }}
    >
      {copied ? "Copied" : label}
    </button>
  );
}
