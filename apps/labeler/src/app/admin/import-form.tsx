"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useTRPC } from "~/trpc/react";

/**
 * Import a JSONL file: comparison tasks ({"prompt", "responses": [...], "gold"?}), TRL pairs
 * ({"prompt", "chosen", "rejected"}) or prompts ({"prompt"}). All or nothing: bad lines are listed.
 */
export function ImportForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [fileError, setFileError] = useState<string | null>(null);
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
      setFileError("Choose a .jsonl file.");
      return;
    }
    setFileError(null);
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
        <h2 id="import-heading">Import</h2>
      </div>
      <form className="form" onSubmit={onSubmit} data-testid="import-form">
        <label>
          JSONL file
          <input name="file" type="file" accept=".jsonl,.json,.txt,application/jsonl" />
        </label>
        <div className="form__row">
          <label>
            Dataset <span className="muted">(new or existing)</span>
            <input name="dataset" placeholder="e.g. helpfulness-round-2" />
          </label>
          <label>
            Rankings per task
            <input name="requiredRankings" type="number" min={1} max={100} defaultValue={1} />
          </label>
        </div>
        <p className="muted small">
          One object per line:{" "}
          <code>{'{"prompt": "…", "responses": [{"text": "…", "source": "model-a"}, …]}'}</code> (2–9
          responses; optional <code>"gold": [[0], [1, 2]]</code>), TRL pairs{" "}
          <code>{'{"prompt", "chosen", "rejected"}'}</code>, or prompts <code>{'{"prompt": "…"}'}</code> to
          generate from. Nothing is imported if any line is wrong.
        </p>
        {fileError && <p className="form-error">{fileError}</p>}
        {importFile.error && (
          <div className="alert alert--inline" role="alert" data-testid="import-error">
            <strong>Nothing was imported</strong>
            <pre className="alert__lines">
              {importFile.error.message.replace(/^nothing was imported; fix these lines:\n/, "")}
            </pre>
          </div>
        )}
        {importFile.data && (
          <p className="form-ok" role="status" data-testid="import-ok">
            Imported {importFile.data.imported} {importFile.data.kind === "prompts" ? "prompts" : "tasks"}
            {importFile.data.gold > 0 ? ` (${importFile.data.gold} gold)` : ""} into {importFile.data.dataset}
            {importFile.data.created ? " (new dataset)" : ""}.
          </p>
        )}
        <button type="submit" className="button button--primary" disabled={importFile.isPending}>
          {importFile.isPending ? "Importing…" : "Import"}
        </button>
      </form>
    </section>
  );
}
