"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useCallback, useEffect, useRef, useState } from "react";
import {
  BROWSER_BACKENDS,
  type BrowserBackend,
  type CompletionSettingsInput,
  completionSettingsSchema,
  DEFAULT_SETTINGS,
  firstDifference,
  POLICY_KINDS,
  tokensPerSecond,
} from "~/lib/playground";
import type { RouterOutputs } from "~/server/api/root";
import { useTRPC } from "~/trpc/react";
import { bytes, integer } from "../format";
import { QueryError } from "../query-error";
import { useSession } from "../session";
import { CompressBox } from "./compress-box";

type BrowserModelLib = typeof import("~/lib/browser-model");
type LoadedModel = Awaited<ReturnType<BrowserModelLib["loadBrowserCheckpoint"]>>;
type Run = RouterOutputs["launch"]["options"]["runs"][number];

type LoadState =
  | { status: "idle" }
  | { status: "loading"; file: string; loaded: number; total: number | undefined; done: number }
  | { status: "ready"; bytes: number; ms: number }
  | { status: "error"; message: string };

interface Generation {
  tokens: number[];
  text: string;
  running: boolean;
  ms: number;
  finish?: "eos" | "length" | "stopped";
  numTensors?: number;
  error?: string;
}

const FILES = ["config.json", "tokenizer.json", "model.safetensors"] as const;

/** The checkpoint a run offers first: its final one, else its latest. */
function defaultCheckpoint(run: Run | undefined): string | undefined {
  return (run?.checkpoints.find((c) => c.isFinal) ?? run?.checkpoints[0])?.id;
}

export function PlaygroundView({
  initialRunId,
  initialCheckpointId,
  backend: askedBackend,
}: {
  initialRunId?: string;
  initialCheckpointId?: string;
  /** A backend asked for in the address (`?backend=wasm`); otherwise the first that starts. */
  backend?: BrowserBackend;
}) {
  const trpc = useTRPC();
  const router = useRouter();
  const options = useQuery(trpc.launch.options.queryOptions());
  const runs = (options.data?.runs ?? []).filter(
    (r) => (POLICY_KINDS as readonly string[]).includes(r.kind) && r.checkpoints.length > 0,
  );
  const [runId, setRunId] = useState(initialRunId);
  const [checkpointId, setCheckpointId] = useState(initialCheckpointId);
  const run = runs.find((r) => r.id === runId);

  const [backend, setBackend] = useState<{ name: string; note?: string }>();
  const [load, setLoad] = useState<LoadState>({ status: "idle" });
  const modelRef = useRef<{ lib: BrowserModelLib; loaded: LoadedModel } | null>(null);
  const [settings, setSettings] = useState<CompletionSettingsInput>(DEFAULT_SETTINGS);
  const [compareWanted, setCompare] = useState(true);
  // The browser's run is free for anyone; the server's costs the dashboard's CPU, so it needs an account.
  const { user } = useSession();
  const compare = compareWanted && user !== null;
  const [local, setLocal] = useState<Generation | null>(null);
  const stopRef = useRef<AbortController | null>(null);
  const server = useMutation(trpc.playground.generate.mutationOptions());

  const choose = useCallback(
    (nextRun: string | undefined, nextCheckpoint: string | undefined) => {
      setRunId(nextRun);
      setCheckpointId(nextCheckpoint);
      const query = [
        nextRun && `run=${nextRun}`,
        nextCheckpoint && `checkpoint=${nextCheckpoint}`,
        askedBackend && `backend=${askedBackend}`,
      ].filter(Boolean);
      router.replace(query.length > 0 ? `/playground?${query.join("&")}` : "/playground", { scroll: false });
    },
    [router, askedBackend],
  );

  // A deep link with a run but no checkpoint takes the run's default one.
  useEffect(() => {
    if (run && !checkpointId) choose(run.id, defaultCheckpoint(run));
  }, [run, checkpointId, choose]);

  // Download and build the model whenever the checkpoint changes; dispose the previous one.
  useEffect(() => {
    if (!checkpointId) return;
    const controller = new AbortController();
    let built: LoadedModel | undefined;
    setLocal(null);
    server.reset();
    (async () => {
      const started = performance.now();
      const lib = await import("~/lib/browser-model");
      setBackend(await lib.initBrowserBackend(askedBackend ? [askedBackend] : undefined));
      let done = 0;
      const loaded = await lib.loadBrowserCheckpoint(
        checkpointId,
        (p) => {
          done = FILES.indexOf(p.file as (typeof FILES)[number]);
          setLoad({ status: "loading", ...p, done });
        },
        controller.signal,
      );
      if (controller.signal.aborted) {
        loaded.model.dispose();
        return;
      }
      built = loaded;
      modelRef.current = { lib, loaded };
      setLoad({ status: "ready", bytes: loaded.bytes, ms: performance.now() - started });
    })().catch((error: unknown) => {
      if (!controller.signal.aborted) setLoad({ status: "error", message: (error as Error).message });
    });
    return () => {
      controller.abort();
      stopRef.current?.abort();
      modelRef.current = null;
      built?.model.dispose();
      setLoad({ status: "idle" });
    };
    // The model depends on the checkpoint alone (server.reset is stable).
  }, [checkpointId]);

  const parsed = completionSettingsSchema.safeParse(settings);
  const ready = load.status === "ready" && modelRef.current !== null;

  async function generate() {
    const current = modelRef.current;
    if (!current || !parsed.success || !checkpointId) return;
    const { lib, loaded } = current;
    const controller = new AbortController();
    stopRef.current = controller;
    server.reset();
    const tokens: number[] = [];
    const started = performance.now();
    setLocal({ tokens, text: "", running: true, ms: 0 });
    try {
      const result = await lib.complete(loaded.model, loaded.tokenizer, parsed.data, {
        signal: controller.signal,
        onToken: (token) => {
          tokens.push(token);
          if (modelRef.current !== current) return;
          setLocal({
            tokens: [...tokens],
            text: lib.completionText(loaded.tokenizer, tokens),
            running: true,
            ms: performance.now() - started,
          });
        },
      });
      // Another checkpoint was picked meanwhile (which stopped this one): its page is blank, keep it so.
      if (modelRef.current !== current) return;
      setLocal({
        tokens: result.tokens,
        text: result.text,
        running: false,
        ms: performance.now() - started,
        finish: result.finish,
        numTensors: lib.liveTensors(),
      });
      if (compare && result.finish !== "stopped") {
        server.mutate({ checkpointId, settings: parsed.data });
      }
    } catch (error) {
      if (modelRef.current !== current) return;
      setLocal({ tokens, text: "", running: false, ms: 0, error: (error as Error).message });
    } finally {
      stopRef.current = null;
    }
  }

  const set = <K extends keyof CompletionSettingsInput>(key: K, value: CompletionSettingsInput[K]) =>
    setSettings((s) => ({ ...s, [key]: value }));
  const issue = (key: keyof CompletionSettingsInput) =>
    parsed.success ? undefined : parsed.error.issues.find((i) => i.path[0] === key)?.message;
  const difference =
    local && !local.running && server.data ? firstDifference(local.tokens, server.data.tokens) : undefined;

  if (options.error) return <QueryError error={options.error} what="the runs" />;

  return (
    <div className="stack">
      <section className="card">
        <div className="form-grid">
          <div className="field">
            <label className="field__label" htmlFor="playground-run">
              Run
            </label>
            <select
              id="playground-run"
              className="select"
              value={runId ?? ""}
              onChange={(e) => {
                const next = runs.find((r) => r.id === e.target.value);
                choose(next?.id, defaultCheckpoint(next));
              }}
            >
              <option value="">{options.isPending ? "loading…" : "choose a run…"}</option>
              {runs.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.name} ({r.kind})
                </option>
              ))}
            </select>
            <span className="field__doc">
              Runs of kind {POLICY_KINDS.join(", ")} that saved a checkpoint.
            </span>
          </div>
          <div className="field">
            <label className="field__label" htmlFor="playground-checkpoint">
              Checkpoint
            </label>
            <select
              id="playground-checkpoint"
              className="select"
              value={checkpointId ?? ""}
              disabled={!run}
              onChange={(e) => choose(runId, e.target.value || undefined)}
            >
              <option value="">choose a checkpoint…</option>
              {run?.checkpoints.map((c) => (
                <option key={c.id} value={c.id}>
                  step {integer(c.step)}
                  {c.isFinal ? " (final)" : ""}
                </option>
              ))}
            </select>
            <span className="field__doc">
              Downloaded from <code>/api/checkpoints/&lt;id&gt;/…</code> and run on this device.
            </span>
          </div>
          <div className="field">
            <label className="field__label" htmlFor="playground-backend">
              Backend
            </label>
            <select
              id="playground-backend"
              className="select"
              value={askedBackend ?? ""}
              onChange={(e) => {
                // tfjs keeps one backend per page: another one is a fresh page with it in the address.
                const url = new URL(window.location.href);
                if (e.target.value) url.searchParams.set("backend", e.target.value);
                else url.searchParams.delete("backend");
                window.location.assign(url);
              }}
            >
              <option value="">auto ({BROWSER_BACKENDS.join(" → ")})</option>
              {BROWSER_BACKENDS.map((b) => (
                <option key={b} value={b}>
                  {b}
                </option>
              ))}
            </select>
            <span className="field__doc">
              TensorFlow.js in this browser: the first that starts, or the one chosen.
            </span>
          </div>
        </div>
        <LoadStatus load={load} backend={backend} />
      </section>

      <section className="card">
        <div className="form-grid">
          <div className="field" style={{ gridColumn: "1 / -1" }}>
            <label className="field__label" htmlFor="playground-prompt">
              Prompt
            </label>
            <textarea
              id="playground-prompt"
              className="input"
              rows={3}
              value={settings.prompt}
              onChange={(e) => set("prompt", e.target.value)}
              placeholder="Tell me about the park."
            />
            <div className="field__doc">
              <fieldset className="segmented plain" aria-label="Prompt format">
                {(["chat", "plain"] as const).map((f) => (
                  <button
                    key={f}
                    type="button"
                    aria-pressed={settings.format === f}
                    onClick={() => set("format", f)}
                  >
                    {f}
                  </button>
                ))}
              </fieldset>{" "}
              {settings.format === "chat"
                ? "<|user|>prompt<|assistant|>, as SFT, PPO and DPO see prompts."
                : "The text alone, as pretraining samples (empty: start of a document)."}
            </div>
          </div>
          <NumberField
            label="Temperature"
            value={settings.temperature}
            step={0.1}
            error={issue("temperature")}
            doc="0 = greedy: the same tokens on every backend."
            onChange={(v) => set("temperature", v)}
          />
          <NumberField
            label="Top-k"
            value={settings.topK}
            step={1}
            error={issue("topK")}
            doc="Sample among the k most likely tokens; 0 = all."
            onChange={(v) => set("topK", v)}
          />
          <NumberField
            label="Top-p"
            value={settings.topP}
            step={0.05}
            error={issue("topP")}
            doc="Smallest set of tokens reaching probability p; 1 = all."
            onChange={(v) => set("topP", v)}
          />
          <NumberField
            label="Max new tokens"
            value={settings.maxNewTokens}
            step={1}
            error={issue("maxNewTokens")}
            doc="Cut to what the model's context leaves after the prompt."
            onChange={(v) => set("maxNewTokens", v)}
          />
          <NumberField
            label="Seed"
            value={settings.seed}
            step={1}
            error={issue("seed")}
            doc="Of the sampling; the same seed gives the same draws."
            onChange={(v) => set("seed", v)}
          />
        </div>
        <div className="row" style={{ marginTop: 14 }}>
          {local?.running ? (
            <button type="button" className="btn btn--danger" onClick={() => stopRef.current?.abort()}>
              Stop
            </button>
          ) : (
            <button
              type="button"
              className="btn btn--primary"
              disabled={!ready || !parsed.success}
              onClick={() => void generate()}
            >
              Generate
            </button>
          )}
          <label className="field--checkbox">
            <input
              type="checkbox"
              checked={compare}
              disabled={user === null}
              onChange={(e) => setCompare(e.target.checked)}
            />{" "}
            Compare with the server
          </label>
          {user === null && (
            <span className="muted" data-testid="compare-sign-in">
              <a className="link" href="/login?next=/playground">
                Sign in
              </a>{" "}
              to compare with the server (it generates on the dashboard's own CPU).
            </span>
          )}
        </div>
      </section>

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
      <CompressBox loaded={() => modelRef.current?.loaded} checkpointId={checkpointId} ready={ready} />
    </div>
  );
}

function LoadStatus({
  load,
  backend,
}: {
  load: LoadState;
  backend: { name: string; note?: string } | undefined;
}) {
  if (load.status === "idle") return null;
  if (load.status === "error") {
    return (
      <div className="alert" role="alert" style={{ marginTop: 14 }}>
        <strong>Could not load the model</strong>
        <p className="alert__message">{load.message}</p>
      </div>
    );
  }
  if (load.status === "loading") {
    const fraction = load.total ? load.loaded / load.total : 0;
    const overall = ((load.done + fraction) / FILES.length) * 100;
    return (
      <div style={{ marginTop: 14 }}>
        <div
          className="progress"
          role="progressbar"
          aria-label="Download"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={Math.round(overall)}
        >
          <div className="progress__bar" style={{ width: `${overall}%` }} />
        </div>
        <span className="muted">
          {load.file}: {bytes(load.loaded)}
          {load.total ? ` of ${bytes(load.total)}` : ""}
        </span>
      </div>
    );
  }
  return (
    <p className="muted" style={{ marginTop: 14 }} data-testid="model-ready">
      Model ready on <strong data-testid="backend">{backend?.name}</strong>: {bytes(load.bytes)} downloaded
      and built in {Math.round(load.ms)} ms.
      {backend?.note && <span data-testid="backend-note"> {backend.note}.</span>}
    </p>
  );
}

function NumberField({
  label,
  value,
  step,
  doc,
  error,
  onChange,
}: {
  label: string;
  value: number;
  step: number;
  doc: string;
  error: string | undefined;
  onChange: (value: number) => void;
}) {
  const id = `playground-${label.toLowerCase().replaceAll(" ", "-")}`;
  return (
    <div className="field">
      <label className="field__label" htmlFor={id}>
        {label}
      </label>
      <input
        id={id}
        className={`input ${error ? "input--invalid" : ""}`}
        type="number"
        step={step}
        value={Number.isNaN(value) ? "" : value}
        onChange={(e) => onChange(e.target.value === "" ? Number.NaN : Number(e.target.value))}
      />
      {error ? <span className="field__error">{error}</span> : <span className="field__doc">{doc}</span>}
    </div>
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
