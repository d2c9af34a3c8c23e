"use client";

import { useServerMessage } from "@rlhf/ui/query-error";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { type FormEvent, useState } from "react";
import { useTRPC } from "~/trpc/react";

/**
 * Import a JSONL file: comparison tasks ({"prompt", "responses": [...], "gold"?}), TRL pairs
 * ({"prompt", "chosen", "rejected"}) or prompts ({"prompt"}). All or nothing: bad lines are listed.
 */
/** The accepted line shapes, as written in a file (the same in every language). */
const EXAMPLES = {
  tasks: '{"prompt": "…", "responses": [{"text": "…", "source": "model-a"}, …]}',
  gold: '"gold": [[0], [1, 2]]',
  pairs: '{"prompt", "chosen", "rejected"}',
  prompts: '{"prompt": "…"}',
};

export function ImportForm() {
  const t = useTranslations("ImportForm");
  const trpc = useTRPC();
  const serverMessage = useServerMessage();
  const queryClient = useQueryClient();
  const [fileError, setFileError] = useState(false);
  const importFile = useMutation(
    trpc.admin.import.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.admin.overview.queryKey() }),
    }),
  );

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const file = form.get("file");
    if (!(file instanceof File) || file.size === 0) {
      setFileError(true);
      return;
    }
    setFileError(false);
    const required = Number(form.get("requiredRankings"));
    importFile.mutate({
      dataset: String(form.get("dataset")).trim() || file.name.replace(/\.jsonl?$/, ""),
      text: await file.text(),
      requiredRankings: Number.isInteger(required) && required > 0 ? required : undefined,
    });
  }

  return (
    <section className="card" aria-labelledby="import-heading">
      <div className="card__head">
        <h2 id="import-heading">{t("heading")}</h2>
      </div>
      <form className="form" onSubmit={onSubmit} data-testid="import-form">
        <label>
          {t("file")}
          <input name="file" type="file" accept=".jsonl,.json,.txt,application/jsonl" />
        </label>
        <div className="form__row">
          <label>
            {t("dataset")} <span className="muted">{t("datasetHint")}</span>
            <input name="dataset" placeholder={t("datasetPlaceholder")} />
          </label>
          <label>
            {t("rankingsPerTask")}
            <input name="requiredRankings" type="number" min={1} max={100} defaultValue={1} />
          </label>
        </div>
        <p className="muted small">
          {t.rich("format", {
            tasks: () => <code>{EXAMPLES.tasks}</code>,
            gold: () => <code>{EXAMPLES.gold}</code>,
            pairs: () => <code>{EXAMPLES.pairs}</code>,
            prompts: () => <code>{EXAMPLES.prompts}</code>,
          })}
        </p>
        {fileError && <p className="form-error">{t("chooseFile")}</p>}
        {importFile.error && (
          <div className="alert alert--inline" role="alert" data-testid="import-error">
            <strong>{t("nothingImported")}</strong>
            <pre className="alert__lines">
              {serverMessage(importFile.error)
                .lines.join("\n")
                .replace(/^nothing was imported; fix these lines:\n/, "")}
            </pre>
          </div>
        )}
        {importFile.data && (
          <p className="form-ok" role="status" data-testid="import-ok">
            {t("imported", {
              count: importFile.data.imported,
              kind: importFile.data.kind === "prompts" ? "prompts" : "tasks",
              gold: importFile.data.gold,
              dataset: importFile.data.dataset,
              created: String(importFile.data.created),
            })}
          </p>
        )}
        <button type="submit" className="button button--primary" disabled={importFile.isPending}>
          {importFile.isPending ? t("importing") : t("submit")}
        </button>
      </form>
    </section>
  );
}
