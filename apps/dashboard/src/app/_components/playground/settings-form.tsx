"use client";

import type { GenerationState } from "./use-generation";

/** The prompt and the sampling settings; Generate (or Stop), and whether the server generates too. */
export function SettingsForm({
  gen,
  ready,
  compare,
  setCompare,
  signedIn,
}: {
  gen: GenerationState;
  ready: boolean;
  compare: boolean;
  setCompare: (on: boolean) => void;
  signedIn: boolean;
}) {
  const { settings, set, issue } = gen;
  return (
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
        {gen.local?.running ? (
          <button type="button" className="btn btn--danger" onClick={gen.stop}>
            Stop
          </button>
        ) : (
          <button
            type="button"
            className="btn btn--primary"
            disabled={!ready || !gen.valid}
            onClick={() => void gen.generate()}
          >
            Generate
          </button>
        )}
        <label className="field--checkbox">
          <input
            type="checkbox"
            checked={compare}
            disabled={!signedIn}
            onChange={(e) => setCompare(e.target.checked)}
          />{" "}
          Compare with the server
        </label>
        {!signedIn && (
          <span className="muted" data-testid="compare-sign-in">
            <a className="link" href="/login?next=/playground">
              Sign in
            </a>{" "}
            to compare with the server (it generates on the dashboard's own CPU).
          </span>
        )}
      </div>
    </section>
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
