"use client";

import { tokensPerSecond } from "~/lib/playground";
import { integer } from "../format";
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
  const { local, server, difference, settings } = gen;
  return (
    <>
      <section className="side-by-side" data-testid="playground-outputs">
        <Output
          title="In this browser"
          testId="browser-output"
          meta={backend ? `tfjs ${backend.name}` : undefined}
          tokens={local?.tokens}
          text={local?.text}
          ms={local?.ms}
          running={local?.running}
          finish={local?.finish}
          error={local?.error}
          extra={local?.numTensors !== undefined ? `${integer(local.numTensors)} tensors alive` : undefined}
          extraTestId="num-tensors"
          extraValue={local?.numTensors}
        />
        <Output
          title="On the server"
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
                ? `model loaded in ${Math.round(server.data.loadMs)} ms`
                : "model already loaded"
              : compare
                ? undefined
                : "comparison off"
          }
        />
      </section>
      {difference !== undefined && (
        <p className={difference === null ? "notice notice--info" : "alert"} data-testid="comparison">
          {difference === null
            ? `Identical, token for token (${local?.tokens.length} tokens).`
            : `The outputs part at token ${difference + 1}${
                settings.temperature === 0
                  ? ": with greedy decoding this is a numerical difference between the backends."
                  : " (sampling: set temperature 0 to compare exactly)."
              }`}
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
  finish: string | undefined;
  error: string | undefined;
  extra?: string;
  extraTestId?: string;
  extraValue?: number;
}) {
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
            {integer(count)} tokens · {Math.round(props.ms ?? 0)} ms ·{" "}
            <span data-testid={`${props.testId}-rate`}>{rate.toFixed(1)} tokens/s</span>
            {props.finish
              ? ` · ${props.finish === "eos" ? "ended by the model" : props.finish === "length" ? "max tokens" : "stopped"}`
              : ""}
          </>
        )}
        {props.running && count === 0 ? "generating…" : ""}
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
