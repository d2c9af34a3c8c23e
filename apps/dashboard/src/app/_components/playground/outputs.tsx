"use client";

import { useFormat } from "@rlhf/ui/i18n/use-format";
import { useTranslations } from "next-intl";
import { tokensPerSecond } from "~/lib/playground";
import type { Backend } from "./use-browser-model";
import type { GenerationState } from "./use-generation";

/** The browser's output beside the server's, and where they part. */
export function Outputs({
  gen,
  backend,
  compare,
}: {
  gen: GenerationState;
  backend: Backend | undefined;
  compare: boolean;
}) {
  const t = useTranslations("Outputs");
  const { integer } = useFormat();
  const { local, server, difference, settings } = gen;
  return (
    <>
      <section className="side-by-side" data-testid="playground-outputs">
        <Output
          title={t("browser")}
          testId="browser-output"
          meta={backend ? `tfjs ${backend.name}` : undefined}
          tokens={local?.tokens}
          text={local?.text}
          ms={local?.ms}
          running={local?.running}
          finish={local?.finish}
          error={local?.error}
          extra={
            local?.numTensors !== undefined ? t("tensors", { count: integer(local.numTensors) }) : undefined
          }
          extraTestId="num-tensors"
          extraValue={local?.numTensors}
        />
        <Output
          title={t("server")}
          testId="server-output"
          meta={server.data?.backend}
          tokens={server.data?.tokens}
          text={server.data?.text}
          ms={server.data?.generateMs}
          running={server.isPending}
          finish={server.data?.finish}
          error={server.error?.message}
          extra={
            server.data
              ? server.data.loadMs > 0
                ? t("loadedIn", { ms: Math.round(server.data.loadMs) })
                : t("alreadyLoaded")
              : compare
                ? undefined
                : t("comparisonOff")
          }
        />
      </section>
      {difference !== undefined && (
        <p className={difference === null ? "notice notice--info" : "alert"} data-testid="comparison">
          {difference === null
            ? t("identical", { count: local?.tokens.length ?? 0 })
            : settings.temperature === 0
              ? t("partGreedy", { token: difference + 1 })
              : t("partSampling", { token: difference + 1 })}
        </p>
      )}
    </>
  );
}

function Output(props: {
  title: string;
  testId: string;
  meta: string | undefined;
  tokens: number[] | undefined;
  text: string | undefined;
  ms: number | undefined;
  running: boolean | undefined;
  finish: "eos" | "length" | "stopped" | undefined;
  error: string | undefined;
  extra?: string;
  extraTestId?: string;
  extraValue?: number;
}) {
  const t = useTranslations("Outputs");
  const { integer } = useFormat();
  const count = props.tokens?.length ?? 0;
  const rate = tokensPerSecond(count, props.ms ?? 0);
  return (
    <div
      className="card"
      data-testid={props.testId}
      data-state={props.running ? "running" : props.tokens ? "done" : "empty"}
      data-tokens={props.tokens?.join(",") ?? ""}
    >
      <div className="card__head">
        <strong>{props.title}</strong> <span className="muted">{props.meta}</span>
      </div>
      {props.error ? (
        <div className="alert" role="alert">
          <p className="alert__message">{props.error}</p>
        </div>
      ) : (
        <pre
          className="sample-text"
          data-testid={`${props.testId}-text`}
          style={{ maxWidth: "none", minHeight: 60 }}
        >
          {props.text ?? ""}
          {props.running ? "▍" : ""}
        </pre>
      )}
      <div className="response-card__meta">
        {count > 0 && (
          <>
            {t("counts", { tokens: integer(count), ms: Math.round(props.ms ?? 0) })} ·{" "}
            <span data-testid={`${props.testId}-rate`}>{t("rate", { rate: rate.toFixed(1) })}</span>
            {props.finish ? ` · ${t(`finish.${props.finish}`)}` : ""}
          </>
        )}
        {props.running && count === 0 ? t("generating") : ""}
        {props.extra && (
          <>
            {" · "}
            <span data-testid={props.extraTestId} data-value={props.extraValue}>
              {props.extra}
            </span>
          </>
        )}
      </div>
    </div>
  );
}
