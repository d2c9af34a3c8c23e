"use client";

import type { DatasetKind } from "@rlhf/core/schema";
import { useTranslations } from "next-intl";
import type { ReactNode } from "react";
import { describeBounds, type FieldSpec, getPath } from "~/lib/config-form";
import { CheckpointPicker } from "./checkpoint-picker";
import type { FieldContext } from "./field-context";
import { RewardTermsInput } from "./reward-picker";
import { JsonInput, NumberInput } from "./text-inputs";

/** What every input of a field shares: its id, its validity and what describes it. */
type Common = Record<string, unknown> & { id: string };

interface InputProps {
  spec: FieldSpec;
  ctx: FieldContext;
  common: Common;
  /** `input--invalid` when the field has an issue, else empty. */
  invalid: string;
  value: unknown;
  defaultText: string | undefined;
}

/** One field of a config: its label (name, bounds, default), its input, its doc and its first issue. */
export function Field({ spec, ctx }: { spec: FieldSpec; ctx: FieldContext }) {
  const t = useTranslations("Field");
  if (spec.type === "object") return <ObjectField spec={spec} ctx={ctx} />;
  const id = `field-${ctx.prefix}${spec.path}`;
  // A list of reward terms shows its own issues only: each term shows those of its fields.
  const error =
    spec.type === "reward-terms"
      ? ctx.issuesUnder(spec.path).find((i) => i.path === spec.path)?.message
      : ctx.issueOf(spec.path);
  const value = getPath(ctx.values, spec.path);
  const bounds = describeBounds(spec, { integer: t("integer"), multipleOf: (n) => t("multipleOf", { n }) });
  const defaultText =
    "defaultValue" in spec
      ? typeof spec.defaultValue === "string"
        ? spec.defaultValue
        : JSON.stringify(spec.defaultValue)
      : undefined;
  const common: Common = {
    id,
    "aria-invalid": Boolean(error),
    "aria-describedby": `${id}-doc${error ? ` ${id}-error` : ""}`,
    onBlur: () => ctx.touch(spec.path),
  };
  const input = (
    <FieldInput
      spec={spec}
      ctx={ctx}
      common={common}
      invalid={error ? "input--invalid" : ""}
      value={value}
      defaultText={defaultText}
    />
  );
  const boolean = spec.type === "boolean";

  return (
    <div
      className={`field ${boolean ? "field--checkbox" : spec.type === "reward-terms" ? "field--wide" : ""}`}
      data-field={`${ctx.prefix}${spec.path}`}
    >
      {boolean && input}
      <label className="field__label" htmlFor={id}>
        <code>
          {spec.name}
          {spec.required && <span title={t("required")}> *</span>}
        </code>
        <span className="field__bounds">
          {[bounds, defaultText !== undefined && !boolean ? t("default", { value: defaultText }) : ""]
            .filter(Boolean)
            .join(" · ")}
        </span>
      </label>
      {!boolean && input}
      <span className="field__doc" id={`${id}-doc`} style={boolean ? { gridColumn: 2 } : undefined}>
        {spec.description}
      </span>
      {error && (
        <span
          className="field__error"
          id={`${id}-error`}
          role="alert"
          style={boolean ? { gridColumn: 2 } : undefined}
        >
          {error}
        </span>
      )}
    </div>
  );
}

/** A nested object: its own fields in a fieldset. */
function ObjectField({ spec, ctx }: { spec: Extract<FieldSpec, { type: "object" }>; ctx: FieldContext }) {
  return (
    <fieldset className="fieldset">
      <legend>{spec.path}</legend>
      <p className="field__doc" style={{ marginTop: 0 }}>
        {spec.description}
      </p>
      <div className="form-grid">
        {spec.fields.map((f) => (
          <Field key={f.path} spec={f} ctx={ctx} />
        ))}
      </div>
    </fieldset>
  );
}

/** The input a field's type asks for; dataset and checkpoint fields pick from what exists. */
function FieldInput(props: InputProps): ReactNode {
  const { spec, ctx, common, invalid, value, defaultText } = props;
  const datasetKind = "dataset" in spec ? spec.dataset : undefined;
  switch (spec.type) {
    case "boolean":
      return (
        <input
          {...common}
          type="checkbox"
          checked={typeof value === "boolean" ? value : spec.defaultValue === true}
          onChange={(e) => {
            ctx.change(spec.path, e.target.checked);
            ctx.touch(spec.path);
          }}
        />
      );
    case "enum":
      return <EnumInput {...props} />;
    case "number":
      return (
        <NumberInput
          common={common}
          className={`input ${invalid}`}
          value={value}
          placeholder={defaultText}
          onChange={(v) => ctx.change(spec.path, v)}
        />
      );
    case "string-list":
      return datasetKind ? (
        <DatasetListInput {...props} datasetKind={datasetKind} />
      ) : (
        <LinesInput {...props} />
      );
    case "reward-terms":
      return <RewardTermsInput spec={spec} ctx={ctx} Field={Field} />;
    case "json":
      return (
        <JsonInput
          common={common}
          className={`input ${invalid}`}
          value={value}
          placeholder={defaultText}
          onChange={(v) => ctx.change(spec.path, v)}
        />
      );
  }
  if (spec.type === "string" && spec.checkpoint) {
    return (
      <CheckpointPicker common={common} className={`select ${invalid}`} spec={spec} ctx={ctx} value={value} />
    );
  }
  if (datasetKind) return <DatasetInput {...props} datasetKind={datasetKind} />;
  return (
    <input
      {...common}
      className={`input ${invalid}`}
      value={typeof value === "string" ? value : ""}
      placeholder={defaultText}
      onChange={(e) => ctx.change(spec.path, e.target.value || undefined)}
    />
  );
}

function EnumInput({ spec, ctx, common, invalid, value, defaultText }: InputProps) {
  const t = useTranslations("Field");
  if (spec.type !== "enum") return null;
  return (
    <select
      {...common}
      className={`select ${invalid}`}
      value={typeof value === "string" ? value : ""}
      onChange={(e) => ctx.change(spec.path, e.target.value || undefined)}
    >
      <option value="">
        {defaultText ? t("defaultOption", { value: String(spec.defaultValue) }) : t("choose")}
      </option>
      {spec.options.map((o) => (
        <option key={o} value={o}>
          {o}
        </option>
      ))}
    </select>
  );
}

/** The names of the datasets of a kind. */
function datasetNames(ctx: FieldContext, kind: DatasetKind): string[] {
  return ctx.options?.datasets.filter((d) => d.kind === kind).map((d) => d.name) ?? [];
}

/** Several datasets of a kind, picked from those that exist. */
function DatasetListInput(props: InputProps & { datasetKind: DatasetKind }) {
  const { spec, ctx, common, invalid, value } = props;
  const names = datasetNames(ctx, props.datasetKind);
  const list = Array.isArray(value) ? (value as string[]) : undefined;
  const selected = list ?? (spec.defaultValue as string[] | undefined) ?? [];
  return (
    <select
      {...common}
      multiple
      className={`select ${invalid}`}
      value={selected}
      size={Math.min(5, Math.max(2, names.length))}
      onChange={(e) =>
        ctx.change(
          spec.path,
          [...e.target.selectedOptions].map((o) => o.value),
        )
      }
    >
      {[...new Set([...names, ...selected])].map((n) => (
        <option key={n} value={n}>
          {n}
        </option>
      ))}
    </select>
  );
}

/** A list of strings, one a line. */
function LinesInput({ spec, ctx, common, invalid, value }: InputProps) {
  const list = Array.isArray(value) ? (value as string[]) : undefined;
  return (
    <textarea
      {...common}
      className={`input ${invalid}`}
      rows={3}
      placeholder={(spec.defaultValue as string[] | undefined)?.join("\n")}
      value={list?.join("\n") ?? ""}
      onChange={(e) => ctx.change(spec.path, e.target.value === "" ? undefined : e.target.value.split("\n"))}
    />
  );
}

/** One dataset: a name typed or picked (a new name is fine where the job writes one). */
function DatasetInput(props: InputProps & { datasetKind: DatasetKind }) {
  const { spec, ctx, common, invalid, value, defaultText } = props;
  return (
    <>
      <input
        {...common}
        className={`input ${invalid}`}
        list={`${common.id}-list`}
        value={typeof value === "string" ? value : ""}
        placeholder={defaultText}
        onChange={(e) => ctx.change(spec.path, e.target.value || undefined)}
      />
      <datalist id={`${common.id}-list`}>
        {datasetNames(ctx, props.datasetKind).map((n) => (
          <option key={n} value={n} />
        ))}
      </datalist>
    </>
  );
}
