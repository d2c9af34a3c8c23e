"use client";

import { useTranslations } from "next-intl";
import { FormField } from "~/app/_components/form-field";
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
  const t = useTranslations("SettingsForm");
  const { settings, set, issue } = gen;
  return (
    <section className="card">
      <div className="form-grid">
        <div className="field" style={{ gridColumn: "1 / -1" }}>
          <label className="field__label" htmlFor="playground-prompt">
            {t("prompt")}
          </label>
          <textarea
            id="playground-prompt"
            className="input"
            rows={3}
            value={settings.prompt}
            onChange={(e) => set("prompt", e.target.value)}
            placeholder={t("promptPlaceholder")}
          />
          <div className="field__doc">
            <fieldset className="segmented plain" aria-label={t("format")}>
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
              ? t("chatDoc", { template: "<|user|>prompt<|assistant|>" })
              : t("plainDoc")}
          </div>
        </div>
        <NumberField
          id="playground-temperature"
          label={t("fields.temperature.label")}
          value={settings.temperature}
          step={0.1}
          error={issue("temperature")}
          doc={t("fields.temperature.doc")}
          onChange={(v) => set("temperature", v)}
        />
        <NumberField
          id="playground-top-k"
          label={t("fields.topK.label")}
          value={settings.topK}
          step={1}
          error={issue("topK")}
          doc={t("fields.topK.doc")}
          onChange={(v) => set("topK", v)}
        />
        <NumberField
          id="playground-top-p"
          label={t("fields.topP.label")}
          value={settings.topP}
          step={0.05}
          error={issue("topP")}
          doc={t("fields.topP.doc")}
          onChange={(v) => set("topP", v)}
        />
        <NumberField
          id="playground-max-new-tokens"
          label={t("fields.maxNewTokens.label")}
          value={settings.maxNewTokens}
          step={1}
          error={issue("maxNewTokens")}
          doc={t("fields.maxNewTokens.doc")}
          onChange={(v) => set("maxNewTokens", v)}
        />
        <NumberField
          id="playground-seed"
          label={t("fields.seed.label")}
          value={settings.seed}
          step={1}
          error={issue("seed")}
          doc={t("fields.seed.doc")}
          onChange={(v) => set("seed", v)}
        />
      </div>
      <div className="row" style={{ marginTop: 14 }}>
        {gen.local?.running ? (
          <button type="button" className="btn btn--danger" onClick={gen.stop}>
            {t("stop")}
          </button>
        ) : (
          <button
            type="button"
            className="btn btn--primary"
            disabled={!ready || !gen.valid}
            onClick={() => void gen.generate()}
          >
            {t("generate")}
          </button>
        )}
        <label className="field--checkbox">
          <input
            type="checkbox"
            checked={compare}
            disabled={!signedIn}
            onChange={(e) => setCompare(e.target.checked)}
          />{" "}
          {t("compare")}
        </label>
        {!signedIn && (
          <span className="muted" data-testid="compare-sign-in">
            {t.rich("signIn", {
              link: (chunks) => (
                <a className="link" href="/login?next=/playground">
                  {chunks}
                </a>
              ),
            })}
          </span>
        )}
      </div>
    </section>
  );
}

function NumberField({
  id,
  label,
  value,
  step,
  doc,
  error,
  onChange,
}: {
  /** The element's id (`playground-temperature`): the same in every language. */
  id: string;
  label: string;
  value: number;
  step: number;
  doc: string;
  error: string | undefined;
  onChange: (value: number) => void;
}) {
  return (
    <FormField id={id} label={label} doc={doc} error={error}>
      <input
        id={id}
        className={`input ${error ? "input--invalid" : ""}`}
        type="number"
        step={step}
        value={Number.isNaN(value) ? "" : value}
        onChange={(e) => onChange(e.target.value === "" ? Number.NaN : Number(e.target.value))}
      />
    </FormField>
  );
}
