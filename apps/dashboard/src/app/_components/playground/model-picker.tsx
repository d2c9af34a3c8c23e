"use client";

import { BROWSER_BACKENDS, type BrowserBackend, POLICY_KINDS } from "~/lib/playground";
import { bytes, integer } from "../format";
import {
  type Backend,
  defaultCheckpoint,
  FILES,
  type LoadState,
  type useBrowserModel,
} from "./use-browser-model";

/** Run, checkpoint and backend to run in this browser, and how the model's download goes. */
export function ModelPicker({
  model,
  askedBackend,
}: {
  model: ReturnType<typeof useBrowserModel>;
  askedBackend: BrowserBackend | undefined;
}) {
  const { runs, run, runId, checkpointId, choose, options } = model;
  return (
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
          <span className="field__doc">Runs of kind {POLICY_KINDS.join(", ")} that saved a checkpoint.</span>
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
      <LoadStatus load={model.load} backend={model.backend} />
    </section>
  );
}

function LoadStatus({ load, backend }: { load: LoadState; backend: Backend | undefined }) {
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
