"use client";

import { useTranslations } from "next-intl";
import { type ComponentType, useRef } from "react";
import { type FieldSpec, moduleIssues, rewardTermForm, setPath } from "~/lib/config-form";
import type { FieldContext } from "./field-context";

/** The picker's choices, read once from the registry and the term schema. */
const FORM = rewardTermForm();
const MODULE = "__module";

type Term = Record<string, unknown>;

/**
 * A list of reward functions (`rewards`, `evaluation`): each term a built-in of the registry, with its
 * description and its parameters as fields, or "your own module" (path and export); then its weight,
 * normalisation and name. Every input comes from the schemas; the list is validated with the config.
 */
export function RewardTermsInput({
  spec,
  ctx,
  Field,
}: {
  spec: FieldSpec;
  ctx: FieldContext;
  Field: ComponentType<{ spec: FieldSpec; ctx: FieldContext }>;
}) {
  const t = useTranslations("RewardPicker");
  const value = ctx.values[spec.path];
  const terms: Term[] = Array.isArray(value) ? (value as Term[]) : [];
  const write = (next: Term[]) => ctx.change(spec.path, next.length > 0 ? next : undefined);
  // A key per term that stays with it when an earlier one is removed (inputs keep their own text).
  const keys = useRef<number[]>([]);
  const nextKey = useRef(0);
  while (keys.current.length < terms.length) keys.current.push(nextKey.current++);
  keys.current.length = terms.length;
  const add = (choice: string) => {
    if (!choice) return;
    write([...terms, { function: choice === MODULE ? {} : choice }]);
  };

  return (
    <div className="stack reward-terms" data-testid={`reward-terms-${spec.path}`}>
      {terms.map((term, i) => (
        <TermEditor
          key={keys.current[i]}
          index={i}
          term={term}
          spec={spec}
          ctx={ctx}
          Field={Field}
          onChange={(next) => write(terms.map((t, j) => (j === i ? next : t)))}
          onRemove={() => {
            keys.current.splice(i, 1);
            write(terms.filter((_, j) => j !== i));
          }}
        />
      ))}
      <select
        className="select"
        aria-label={t("addTo", { path: spec.path })}
        value=""
        onChange={(e) => {
          add(e.target.value);
          ctx.touch(spec.path);
        }}
      >
        <option value="">{terms.length === 0 ? t("add") : t("addAnother")}</option>
        <optgroup label={t("builtin")}>
          {FORM.builtins.map((b) => (
            <option key={b.name} value={b.name} title={b.description}>
              {b.name}
            </option>
          ))}
        </optgroup>
        <option value={MODULE}>{t("moduleOption")}</option>
      </select>
    </div>
  );
}

function TermEditor({
  index,
  term,
  spec,
  ctx,
  Field,
  onChange,
  onRemove,
}: {
  index: number;
  term: Term;
  spec: FieldSpec;
  ctx: FieldContext;
  Field: ComponentType<{ spec: FieldSpec; ctx: FieldContext }>;
  onChange: (term: Term) => void;
  onRemove: () => void;
}) {
  const t = useTranslations("RewardPicker");
  const fn = term.function;
  const isModule = typeof fn === "object" && fn !== null;
  const builtin = typeof fn === "string" ? FORM.builtins.find((b) => b.name === fn) : undefined;
  const at = `${spec.path}.${index}`;
  const local = isModule ? moduleIssues(fn) : [];
  const sub: FieldContext = {
    ...ctx,
    prefix: `${ctx.prefix}${at}.`,
    scope: `${builtin?.name ?? "module"}`,
    values: term,
    change: (path, next) => {
      const updated = setPath(term, path, next);
      // An emptied module path or export keeps the term a module term.
      if (isModule && updated.function === undefined) updated.function = {};
      onChange(updated);
    },
    touch: (path) => ctx.touch(`${at}.${path}`),
    // A module term's path and export are checked here: the schema's union names neither.
    issueOf: (path) => local.find((i) => i.path === path)?.message ?? ctx.issueOf(`${at}.${path}`),
    issuesUnder: (path) => ctx.issuesUnder(`${at}.${path}`),
  };
  const fields = [...(isModule ? FORM.module : (builtin?.params ?? [])), ...FORM.settings];
  // Issues no field of the term shows (a parameter the function does not take, the term as a whole).
  const covered = ["function", ...fields.map((f) => f.path)];
  const others = ctx.issuesUnder(at).filter((i) => {
    const rel = i.path.slice(at.length + 1);
    return !covered.some((c) => rel === c || rel.startsWith(`${c}.`));
  });
  const functionError = isModule ? undefined : ctx.issueOf(`${at}.function`);
  const id = `field-${sub.prefix}function`;

  return (
    <fieldset className="fieldset reward-term" data-term={at}>
      <legend>
        {spec.path}[{index}]
      </legend>
      <div className="field" data-field={`${at}.function`}>
        <label className="field__label" htmlFor={id}>
          <code>function</code>
        </label>
        <div className="row">
          <select
            id={id}
            className={`select ${functionError ? "input--invalid" : ""}`}
            value={isModule ? MODULE : typeof fn === "string" ? fn : ""}
            onChange={(e) =>
              onChange({
                ...term,
                function: e.target.value === MODULE ? {} : e.target.value,
                params: undefined,
              })
            }
          >
            {!builtin && !isModule && <option value="">{t("choose")}</option>}
            <optgroup label={t("builtin")}>
              {FORM.builtins.map((b) => (
                <option key={b.name} value={b.name}>
                  {b.name}
                </option>
              ))}
            </optgroup>
            <option value={MODULE}>{t("module")}</option>
          </select>
          <button type="button" className="btn btn--small" onClick={onRemove}>
            {t("remove")}
          </button>
        </div>
        <span className="field__doc" data-testid="reward-description">
          {builtin ? builtin.description : isModule ? t("moduleDoc") : ""}
        </span>
        {functionError && (
          <span className="field__error" role="alert">
            {functionError}
          </span>
        )}
      </div>
      <div className="form-grid">
        {fields.map((f) => (
          <Field key={f.path} spec={f} ctx={sub} />
        ))}
      </div>
      {others.map((i) => (
        <p key={`${i.path}:${i.message}`} className="field__error" role="alert">
          <code>{i.path.slice(at.length + 1)}: </code>
          {i.message}
        </p>
      ))}
    </fieldset>
  );
}
