"use client";

import { useFormat } from "@rlhf/ui/i18n/use-format";
import { useServerMessage, useServerText } from "@rlhf/ui/query-error";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { type FormEvent, useState } from "react";
import type { RouterOutputs } from "~/server/api/root";
import { useTRPC } from "~/trpc/react";
import { FormField } from "../form-field";
import { useSession } from "../session";

/** The kinds a file can be imported as, with what one line of each looks like (JSON, the same in every language). */
const KINDS = ["text", "sft", "prompts"] as const;
const EXAMPLES: Record<Kind, string> = {
  text: '{"text": "…"}',
  sft: '{"prompt", "completion"}, {"prompt", "response"}, {"messages": [...]}',
  prompts: '{"prompt": "…"}',
};
type Kind = (typeof KINDS)[number];

/**
 * "Import a dataset", for admins: a JSONL file (or a .txt corpus) into a text, SFT or prompts dataset
 * through the same core function as `rlhf import`. All or nothing: bad lines are listed by number.
 */
export function ImportDatasetForm() {
  const t = useTranslations("ImportForm");
  const trpc = useTRPC();
  const serverMessage = useServerMessage();
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
      setFileError(t("chooseFile"));
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
        <h2 id="import-dataset-heading">{t("heading")}</h2>
      </div>
      <form className="stack" onSubmit={onSubmit} data-testid="import-dataset-form">
        <div className="form-grid">
          <FormField id="import-file" label={t("file")} doc={t("fileDoc")}>
            <input
              id="import-file"
              name="file"
              type="file"
              className="input"
              accept=".jsonl,.json,.txt,application/jsonl,text/plain"
            />
          </FormField>
          <FormField
            id="import-kind"
            label={t("kind")}
            doc={t.rich(kind === "text" ? "eachLineText" : "eachLine", {
              example: EXAMPLES[kind],
              code: (chunks) => <code>{chunks}</code>,
            })}
          >
            <select
              id="import-kind"
              className="select"
              value={kind}
              onChange={(e) => setKind(e.target.value as Kind)}
            >
              {KINDS.map((k) => (
                <option key={k} value={k}>
                  {t(`kinds.${k}`)}
                </option>
              ))}
            </select>
          </FormField>
          <FormField id="import-name" label={t("name")} doc={t("nameDoc")}>
            <input id="import-name" name="name" className="input" placeholder={t("namePlaceholder")} />
          </FormField>
          <FormField id="import-eval" label={t("evalFraction")} doc={t("evalDoc")}>
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
          </FormField>
        </div>

        {fileError && <p className="field__error">{fileError}</p>}
        {importFile.isError && (
          <div className="error-box" role="alert" data-testid="import-dataset-error">
            <strong>{t("nothing")}</strong>
            <pre>{serverMessage(importFile.error).text}</pre>
          </div>
        )}
        {answer && <ImportAnswer answer={answer} />}
        <div className="row">
          <button type="submit" className="btn btn--primary" disabled={importFile.isPending}>
            {importFile.isPending ? t("importing") : t("import")}
          </button>
        </div>
      </form>
    </section>
  );
}

type Answer = RouterOutputs["data"]["importDataset"];

/** What the server answered: every problem by line (nothing imported), or what was imported. */
function ImportAnswer({ answer }: { answer: Answer }) {
  const t = useTranslations("ImportForm");
  const format = useFormat();
  const say = useServerText();
  return (
    <>
      {!answer.ok && (
        <div className="error-box" role="alert" data-testid="import-dataset-error">
          <strong>{t("problems", { count: answer.total, total: format.integer(answer.total) })}</strong>
          <pre>
            {answer.problems
              .map((p) =>
                t("problemLine", { line: p.line, field: p.field, message: say(p.expected) ?? p.message }),
              )
              .join("\n")}
            {answer.total > answer.problems.length
              ? `\n${t("more", { count: format.integer(answer.total - answer.problems.length) })}`
              : ""}
          </pre>
        </div>
      )}
      {answer.ok && (
        <p className="notice notice--info" role="status" data-testid="import-dataset-ok">
          {t(answer.result.created ? "importedNew" : "imported", {
            rows: format.integer(answer.result.imported),
            dataset: answer.result.dataset,
            train: format.integer(answer.result.train),
            eval: format.integer(answer.result.eval),
          })}
          {answer.result.duplicates > 0 &&
            ` ${t("duplicates", {
              count: answer.result.duplicates,
              shown: format.integer(answer.result.duplicates),
              lines: `${answer.result.duplicateLines.join(", ")}${answer.result.duplicates > answer.result.duplicateLines.length ? ", …" : ""}`,
            })}`}
        </p>
      )}
    </>
  );
}
