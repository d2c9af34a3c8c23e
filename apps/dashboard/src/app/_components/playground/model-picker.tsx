"use client";

import { useFormat } from "@rlhf/ui/i18n/use-format";
import { useTranslations } from "next-intl";
import { FormField } from "~/app/_components/form-field";
import { BROWSER_BACKENDS, type BrowserBackend, POLICY_KINDS } from "~/lib/playground";
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
  const t = useTranslations("ModelPicker");
  const { integer } = useFormat();
  const { runs, run, runId, checkpointId, choose, options } = model;
  return (
    <section className="card">
      <div className="form-grid">
        <FormField id="playground-run" label={t("run")} doc={t("runDoc", { kinds: POLICY_KINDS.join(", ") })}>
          <select
            id="playground-run"
            className="select"
            value={runId ?? ""}
            onChange={(e) => {
              const next = runs.find((r) => r.id === e.target.value);
              choose(next?.id, defaultCheckpoint(next));
            }}
          >
            <option value="">{options.isPending ? t("loading") : t("chooseRun")}</option>
            {runs.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name} ({r.kind})
              </option>
            ))}
          </select>
        </FormField>
        <FormField
          id="playground-checkpoint"
          label={t("checkpoint")}
          doc={t.rich("checkpointDoc", { id: "<id>", code: (chunks) => <code>{chunks}</code> })}
        >
          <select
            id="playground-checkpoint"
            className="select"
            value={checkpointId ?? ""}
            disabled={!run}
            onChange={(e) => choose(runId, e.target.value || undefined)}
          >
            <option value="">{t("chooseCheckpoint")}</option>
            {run?.checkpoints.map((c) => (
              <option key={c.id} value={c.id}>
                {c.isFinal ? t("stepFinal", { step: integer(c.step) }) : t("step", { step: integer(c.step) })}
              </option>
            ))}
          </select>
        </FormField>
        <FormField id="playground-backend" label={t("backend")} doc={t("backendDoc")}>
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
            <option value="">{t("auto", { order: BROWSER_BACKENDS.join(" → ") })}</option>
            {BROWSER_BACKENDS.map((b) => (
              <option key={b} value={b}>
                {b}
              </option>
            ))}
          </select>
        </FormField>
      </div>
      <LoadStatus load={model.load} backend={model.backend} />
    </section>
  );
}

function LoadStatus({ load, backend }: { load: LoadState; backend: Backend | undefined }) {
  const t = useTranslations("ModelPicker.load");
  const { bytes } = useFormat();
  if (load.status === "idle") return null;
  if (load.status === "error") {
    return (
      <div className="alert" role="alert" style={{ marginTop: 14 }}>
        <strong>{t("error")}</strong>
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
          aria-label={t("download")}
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={Math.round(overall)}
        >
          <div className="progress__bar" style={{ width: `${overall}%` }} />
        </div>
        <span className="muted">
          {load.file}:{" "}
          {load.total
            ? t("progressOf", { loaded: bytes(load.loaded), total: bytes(load.total) })
            : bytes(load.loaded)}
        </span>
      </div>
    );
  }
  return (
    <p className="muted" style={{ marginTop: 14 }} data-testid="model-ready">
      {t.rich("ready", {
        backend: () => <strong data-testid="backend">{backend?.name}</strong>,
        bytes: bytes(load.bytes),
        ms: Math.round(load.ms),
      })}
      {backend?.note && <span data-testid="backend-note"> {backend.note}.</span>}
    </p>
  );
}
