"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useTRPC } from "~/trpc/react";
import { integer } from "../format";
import { useSession } from "../session";

const KINDS = [
  { kind: "text", label: "Text corpus (pretraining)", example: '{"text": "…"}, or a .txt file' },
  {
    kind: "sft",
    label: "SFT pairs",
    example: '{"prompt", "completion"}, {"prompt", "response"} or {"messages": [...]}',
  },
  { kind: "prompts", label: "Prompts (PPO, generate)", example: '{"prompt": "…"}' },
] as const;
type Kind = (typeof KINDS)[number]["kind"];

/**
 * "Import a dataset", for admins: a JSONL file (or a .txt corpus) into a text, SFT or prompts dataset
 * through the same core function as `rlhf import`. All or nothing: bad lines are listed by number.
 */
export function ImportDatasetForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { isAdmin } = useSession();
  const [kind, setKind] = useState<Kind>("sft");
  const [fileError, setFileError] = useState<string | null>(null);
  const importFile = useMutation(
    trpc.data.importDataset.mutationOptions({
      onSuccess: (answer) => {
        if (answer.ok) return queryClient.invalidateQueries({ queryKey: trpc.data.overview.queryKey() });
      },
    }),
  );
  if (!isAdmin) return null;

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const file = form.get("file");
    if (!(file instanceof File) || file.size === 0) {
      setFileError("Choose a .jsonl or .txt file.");
      return;
    }
    setFileError(null);
    const evalFraction = Number(form.get("evalFraction") || 0);
    importFile.mutate({
      kind,
      name: String(form.get("name")).trim() || file.name.replace(/\.(jsonl?|txt)$/i, ""),
      content: await file.text(),
      format: /\.txt$/i.test(file.name) ? "txt" : "jsonl",
      evalFraction: evalFraction > 0 ? evalFraction : undefined,
    });
  }

  const answer = importFile.data;
  return (
    <section className="card" aria-labelledby="import-dataset-heading">
      <div className="card__head">
        <h2 id="import-dataset-heading">Import a dataset</h2>
      </div>
      <form className="stack" onSubmit={onSubmit} data-testid="import-dataset-form">
        <div className="form-grid">
          <div className="field">
            <label className="field__label" htmlFor="import-file">
              File
            </label>
            <input
              id="import-file"
              name="file"
              type="file"
              className="input"
              accept=".jsonl,.json,.txt,application/jsonl,text/plain"
            />
            <span className="field__doc">JSONL, one object per line; a .txt file for a text corpus.</span>
          </div>
          <div className="field">
            <label className="field__label" htmlFor="import-kind">
              Kind
            </label>
            <select
              id="import-kind"
              className="select"
              value={kind}
              onChange={(e) => setKind(e.target.value as Kind)}
            >
              {KINDS.map((k) => (
                <option key={k.kind} value={k.kind}>
                  {k.label}
                </option>
              ))}
            </select>
            <span className="field__doc">
              Each line: <code>{KINDS.find((k) => k.kind === kind)!.example}</code>
            </span>
          </div>
          <div className="field">
            <label className="field__label" htmlFor="import-name">
              Dataset name
            </label>
            <input
              id="import-name"
              name="name"
              className="input"
              placeholder="e.g. my-sft (default: the file's name)"
            />
            <span className="field__doc">
              Letters, digits and . _ - : @. New, or an existing dataset of the same kind to append to.
            </span>
          </div>
          <div className="field">
            <label className="field__label" htmlFor="import-eval">
              Eval fraction
            </label>
            <input
              id="import-eval"
              name="evalFraction"
              type="number"
              className="input"
              min={0}
              max={0.9}
              step="any"
              defaultValue={0}
            />
            <span className="field__doc">
              Share of the rows held out as the eval split, spread through the file (0: none; trainers then
              hold out the tail).
            </span>
          </div>
        </div>

        {fileError && <p className="field__error">{fileError}</p>}
        {importFile.isError && (
          <div className="error-box" role="alert" data-testid="import-dataset-error">
            <strong>Nothing was imported</strong>
            <pre>{importFile.error.message}</pre>
          </div>
        )}
        {answer && !answer.ok && (
          <div className="error-box" role="alert" data-testid="import-dataset-error">
            <strong>
              Nothing was imported: {integer(answer.total)} problem{answer.total === 1 ? "" : "s"} to fix
            </strong>
            <pre>
              {answer.problems.map((p) => `line ${p.line}: ${p.field}: ${p.message}`).join("\n")}
              {answer.total > answer.problems.length
                ? `\n… and ${integer(answer.total - answer.problems.length)} more`
                : ""}
            </pre>
          </div>
        )}
        {answer?.ok && (
          <p className="notice notice--info" role="status" data-testid="import-dataset-ok">
            Imported {integer(answer.result.imported)} rows into {answer.result.dataset}
            {answer.result.created ? " (new dataset)" : ""}: {integer(answer.result.train)} train,{" "}
            {integer(answer.result.eval)} eval.
            {answer.result.duplicates > 0 &&
              ` ${integer(answer.result.duplicates)} duplicate line${answer.result.duplicates === 1 ? "" : "s"} dropped (line ${answer.result.duplicateLines.join(", ")}${answer.result.duplicates > answer.result.duplicateLines.length ? ", …" : ""}).`}
          </p>
        )}
        <div className="row">
          <button type="submit" className="btn btn--primary" disabled={importFile.isPending}>
            {importFile.isPending ? "Importing…" : "Import"}
          </button>
        </div>
      </form>
    </section>
  );
}
