"use client";

import { useServerMessage } from "@rlhf/ui/query-error";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import type { FormEvent } from "react";
import { useTRPC } from "~/trpc/react";

/** Tasks from a model: K responses per prompt from a run's checkpoint, queued as a `generate` job. */
export function GenerateForm() {
  const t = useTranslations("GenerateForm");
  const trpc = useTRPC();
  const serverMessage = useServerMessage();
  const sources = useQuery(trpc.admin.generationSources.queryOptions());
  const generate = useMutation(trpc.admin.generate.mutationOptions());

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    generate.mutate({
      runId: String(form.get("runId")),
      prompts: String(form.get("prompts")),
      dataset: String(form.get("dataset")),
      completionsPerPrompt: Number(form.get("k")),
      maxPrompts: Number(form.get("maxPrompts")),
    });
  }

  const runs = sources.data?.runs ?? [];
  const prompts = sources.data?.promptDatasets ?? [];
  return (
    <section className="card" aria-labelledby="generate-heading">
      <div className="card__head">
        <h2 id="generate-heading">{t("heading")}</h2>
      </div>
      {sources.isSuccess && runs.length === 0 ? (
        <p className="muted">{t.rich("noRuns", { code: (chunks) => <code>{chunks}</code> })}</p>
      ) : (
        <form className="form" onSubmit={onSubmit}>
          <label>
            {t("checkpoint")}
            <select name="runId" required>
              {runs.map((r) => (
                <option key={r.id} value={r.id}>
                  {t("run", { name: r.name, kind: r.kind, step: r.step })}
                </option>
              ))}
            </select>
          </label>
          <div className="form__row">
            <label>
              {t("prompts")}
              <select name="prompts" required>
                {prompts.map((p) => (
                  <option key={p}>{p}</option>
                ))}
              </select>
            </label>
            <label>
              {t("into")}
              <input name="dataset" required defaultValue="generated-preferences" />
            </label>
          </div>
          <div className="form__row">
            <label>
              {t("k")}
              <input name="k" type="number" min={2} max={9} defaultValue={4} />
            </label>
            <label>
              {t("maxPrompts")}
              <input name="maxPrompts" type="number" min={1} defaultValue={100} />
            </label>
          </div>
          {generate.error && <p className="form-error">{serverMessage(generate.error).text}</p>}
          {generate.data && (
            <p className="form-ok" role="status">
              {t("queued", { name: generate.data.name })}
            </p>
          )}
          <button
            type="submit"
            className="button button--primary"
            disabled={generate.isPending || runs.length === 0}
          >
            {t("submit")}
          </button>
        </form>
      )}
    </section>
  );
}
