"use client";

import { type JobKind, jobConfigSchemas } from "@rlhf/core/configs";
import Link from "next/link";
import { useTranslations } from "next-intl";
import { FormField } from "../form-field";
import { QueryError } from "../query-error";
import { AdminButton, useSession } from "../session";
import { Field } from "./field";
import { KINDS, type LaunchFormState, useLaunchForm } from "./use-launch-form";

/**
 * The launch form of a job kind, generated from its zod schema: every field with its doc, default and
 * bounds; checkpoints and datasets picked from what exists; validated as you type with the schema the
 * worker uses, and again by the server.
 */
export function LaunchForm({ initialKind, fromId }: { initialKind?: JobKind; fromId?: string }) {
  const t = useTranslations("LaunchForm");
  const form = useLaunchForm(initialKind, fromId);
  const { kind, fields, ctx } = form;
  const inputs = fields.filter((f) => f.type === "string" && (f.checkpoint || f.dataset !== undefined));
  const datasetLists = fields.filter((f) => f.type === "string-list" && f.dataset !== undefined);
  const rest = fields.filter((f) => !inputs.includes(f) && !datasetLists.includes(f));

  return (
    <form
      className="stack"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        form.submit();
      }}
    >
      <KindPicker form={form} />

      {form.options.isError && <QueryError error={form.options.error} what={t("runsAndDatasets")} />}

      <section className="card">
        <div className="card__head">
          <h2>{t("inputs")}</h2>
        </div>
        <div className="form-grid">
          <FormField
            id="run-name"
            label={<span>{t("runName")}</span>}
            doc={t.rich("runNameDoc", { ref: "run:<name>", code: (chunks) => <code>{chunks}</code> })}
          >
            <input
              id="run-name"
              className="input"
              value={form.name}
              placeholder={t("runNamePlaceholder", { kind })}
              onChange={(e) => form.setName(e.target.value)}
            />
          </FormField>
          {[...inputs, ...datasetLists].map((f) => (
            <Field key={f.path} spec={f} ctx={ctx} />
          ))}
        </div>
      </section>

      <section className="card">
        <div className="card__head">
          <h2>{t("settings")}</h2>
          <span className="muted">{t("settingsHint")}</span>
        </div>
        <div className="form-grid">
          {rest.map((f) => (
            <Field key={f.path} spec={f} ctx={ctx} />
          ))}
        </div>
      </section>

      <GeneralIssues form={form} />
      {form.launch.isError && <QueryError error={form.launch.error} what={t("theLaunch")} />}
      <LaunchButton form={form} />
    </form>
  );
}

/** The job kinds, each with its schema's description; the form of the one pressed. */
function KindPicker({ form }: { form: LaunchFormState }) {
  const t = useTranslations("LaunchForm");
  const { source } = form;
  return (
    <section className="card">
      <div className="card__head">
        <h2>{t("jobKind")}</h2>
        {source && (
          <span className="muted">
            {t.rich("from", {
              run: () => (
                <Link className="link" href={`/runs/${source.id}`}>
                  {source.name}
                </Link>
              ),
            })}
          </span>
        )}
      </div>
      <fieldset className="kind-picker plain" aria-label={t("jobKind")}>
        {KINDS.map((k) => (
          <button
            key={k}
            type="button"
            className="kind"
            aria-pressed={k === form.kind}
            onClick={() => form.pickKind(k)}
          >
            <strong>{k}</strong>
            <span>{jobConfigSchemas[k].description}</span>
          </button>
        ))}
      </fieldset>
    </section>
  );
}

/** Issues no field shows (a refinement across fields, a path the form has no field for). */
function GeneralIssues({ form }: { form: LaunchFormState }) {
  if (!(form.submitted || form.serverIssues) || form.general.length === 0) return null;
  return (
    <div className="alert" role="alert">
      {form.general.map((i) => (
        <p key={`${i.path}:${i.message}`}>
          {i.path && <code>{i.path}: </code>}
          {i.message}
        </p>
      ))}
    </div>
  );
}

function LaunchButton({ form }: { form: LaunchFormState }) {
  const t = useTranslations("LaunchForm");
  const { isAdmin, user, adminOnly } = useSession();
  const { kind, issues, launch } = form;
  return (
    <div className="row">
      <AdminButton type="submit" className="btn btn--primary" busy={launch.isPending}>
        {launch.isPending ? t("launching") : t("launch", { kind })}
      </AdminButton>
      {form.submitted && issues.length > 0 && (
        <span className="field__error" data-testid="form-invalid">
          {t("toFix", { count: issues.length })}
        </span>
      )}
      {!isAdmin && <span className="muted">{user ? adminOnly : t("signIn")}</span>}
    </div>
  );
}
