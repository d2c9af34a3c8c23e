"use client";

import { useFormat } from "@rlhf/ui/i18n/use-format";
import Link from "next/link";
import { useTranslations } from "next-intl";
import { useState } from "react";
import { serveExamples } from "~/lib/serve-examples";
import type { RouterOutputs } from "~/server/api/root";

/** The examples' names: programs and libraries, the same in every language. */
const EXAMPLE_NAMES = { curl: "curl", python: "Python (openai)", javascript: "JavaScript (openai)" };

type Run = RouterOutputs["runs"]["detail"]["run"];

/** A serve run: where it answers, how to call it, and what it served. The Stop button is the run's cancel. */
export function ServeCard({ run }: { run: Run }) {
  const t = useTranslations("ServeCard");
  const format = useFormat();
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
        <h2 id="serve-heading">{t("heading")}</h2>
        <span className="muted">
          {servedRun
            ? t.rich(step !== null ? "servingStep" : "serving", {
                step: format.integer(step ?? 0),
                model: () => (
                  <Link className="link" href={`/runs/${servedRun}?tab=checkpoints`}>
                    {model ?? servedRun}
                  </Link>
                ),
              })
            : checkpoint}
        </span>
      </div>
      {run.status === "queued" && (
        <p className="muted">{t.rich("waiting", { code: (chunks) => <code>{chunks}</code> })}</p>
      )}
      {run.status === "running" && endpoint === null && <p className="muted">{t("loadingModel")}</p>}
      {endpoint !== null && (
        <dl className="kv">
          <dt>{t("baseUrl")}</dt>
          <dd className="row">
            <code className="mono" data-testid="serve-endpoint">
              {endpoint}
            </code>
            {live && <CopyButton text={endpoint} label={t("copyUrl")} />}
          </dd>
          <dt>{t("model")}</dt>
          <dd className="mono">{model ?? "—"}</dd>
          {(apiKey || keyHidden) && (
            <>
              <dt>{t("apiKey")}</dt>
              <dd className="row">
                {apiKey ? (
                  <>
                    <code className="mono" data-testid="serve-api-key">
                      {apiKey}
                    </code>
                    <CopyButton text={apiKey} label={t("copyKey")} />
                  </>
                ) : (
                  <span className="muted">{t("adminsOnly")}</span>
                )}
              </dd>
            </>
          )}
          {!live && (
            <>
              <dt>{t("served")}</dt>
              <dd>
                {typeof run.summary.requests === "number"
                  ? t("servedCounts", {
                      requests: format.integer(run.summary.requests),
                      tokens: format.integer(Number(run.summary.generated_tokens ?? 0)),
                    })
                  : t("stopped")}
              </dd>
            </>
          )}
        </dl>
      )}
      {live && model !== null && (
        <div style={{ marginTop: 12 }}>
          <div className="row" role="tablist" aria-label={t("example")}>
            {(["curl", "python", "javascript"] as const).map((kind) => (
              <button
                key={kind}
                type="button"
                role="tab"
                aria-selected={example === kind}
                className={`btn btn--small${example === kind ? " btn--primary" : ""}`}
                onClick={() => setExample(kind)}
              >
                {EXAMPLE_NAMES[kind]}
              </button>
            ))}
            <CopyButton text={serveExamples(endpoint, model, apiKey)[example]} label={t("copy")} />
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
            {t("anyClient")}
          </p>
        </div>
      )}
    </section>
  );
}

function CopyButton({ text, label }: { text: string; label: string }) {
  const t = useTranslations("ServeCard");
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
      {copied ? t("copied") : label}
    </button>
  );
}
