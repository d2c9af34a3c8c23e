"use client";

import { type JobKind, jobConfigSchemas } from "@rlhf/core/configs";
import type { DatasetKind, RunKind } from "@rlhf/core/schema";
import { useMutation, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useMemo, useState } from "react";
import {
  type ConfigIssue,
  configFields,
  describeBounds,
  type FieldSpec,
  getPath,
  setPath,
  validateConfig,
} from "~/lib/config-form";
import { useTRPC } from "~/trpc/react";
import { QueryError } from "../query-error";
import { ADMIN_ONLY, useSession } from "../session";
import type { FieldContext } from "./field-context";
import { RewardTermsInput } from "./reward-picker";

const KINDS = Object.keys(jobConfigSchemas) as JobKind[];

/** Runs that fit a checkpoint field, best first: what the picker lists on top. */
const PREFERRED_INPUTS: Record<string, RunKind[]> = {
  "pretrain.init": ["pretrain"],
  "sft.init": ["pretrain", "sft"],
  "reward.init": ["sft"],
  "ppo.policy": ["sft", "ppo", "dpo", "grpo", "rloo"],
  "ppo.rewardModel": ["reward"],
  "grpo.policy": ["sft", "grpo", "rloo", "ppo", "dpo"],
  "rloo.policy": ["sft", "rloo", "grpo", "ppo", "dpo"],
  "reward_model.params.checkpoint": ["reward"],
  "dpo.policy": ["sft", "dpo", "ppo", "grpo", "rloo"],
  "generate.checkpoint": ["sft", "ppo", "dpo", "grpo", "rloo", "pretrain"],
};

/** Dataset fields and the kind of dataset each takes (`generate.dataset` may name a new one). */
const DATASET_FIELDS: Record<string, DatasetKind> = {
  "pretrain.dataset": "text",
  "sft.dataset": "sft",
  "ppo.prompts": "prompts",
  "grpo.prompts": "prompts",
  "rloo.prompts": "prompts",
  "generate.prompts": "prompts",
  "generate.dataset": "preferences",
  "reward.datasets": "preferences",
  "dpo.datasets": "preferences",
};

/**
 * The launch form of a job kind, generated from its zod schema: every field with its doc, default and
 * bounds; checkpoints and datasets picked from what exists; validated as you type with the schema the
 * worker uses, and again by the server.
 */
export function LaunchForm({ initialKind, fromId }: { initialKind?: JobKind; fromId?: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const { isAdmin, user } = useSession();
  const options = useQuery(trpc.launch.options.queryOptions());
  const from = useQuery(
    trpc.runs.configs.queryOptions({ ids: [fromId ?? ""] }, { enabled: Boolean(fromId) }),
  );
  const [kind, setKind] = useState<JobKind>(initialKind ?? "pretrain");
  const [values, setValues] = useState<Record<string, unknown>>({});
  const [name, setName] = useState("");
  const [touched, setTouched] = useState<Set<string>>(new Set());
  const [submitted, setSubmitted] = useState(false);
  const [serverIssues, setServerIssues] = useState<ConfigIssue[] | null>(null);

  // "Launch again with changes": the earlier run's kind and config (defaults filled, inputs pinned to ids).
  const source = from.data?.[0];
  useEffect(() => {
    if (!source || !KINDS.includes(source.kind as JobKind)) return;
    setKind(source.kind as JobKind);
    setValues(source.config);
    setName(`${source.name}-again`);
  }, [source]);

  const fields = useMemo(() => configFields(kind), [kind]);
  const issues = serverIssues ?? validateConfig(kind, values);
  const launch = useMutation(
    trpc.launch.run.mutationOptions({
      onSuccess: (result) => {
        if (result.ok) router.push(`/runs/${result.run.id}`);
        else setServerIssues(result.issues);
      },
    }),
  );

  const change = (path: string, value: unknown) => {
    setValues((v) => setPath(v, path, value));
    setServerIssues(null);
  };
  const touch = (path: string) => setTouched((t) => new Set(t).add(path));
  const issuesUnder = (path: string) =>
    submitted || touched.has(path)
      ? issues.filter((i) => i.path === path || i.path.startsWith(`${path}.`))
      : [];
  const issueOf = (path: string) => issuesUnder(path)[0]?.message;
  const general = issues.filter(
    (i) => !fields.some((f) => i.path === f.path || i.path.startsWith(`${f.path}.`)),
  );

  const ctx: FieldContext = {
    kind,
    prefix: "",
    scope: kind,
    values,
    change,
    touch,
    issueOf,
    issuesUnder,
    options: options.data,
  };
  const inputs = fields.filter(
    (f) => f.type === "string" && (f.checkpoint || `${kind}.${f.path}` in DATASET_FIELDS),
  );
  const datasetLists = fields.filter(
    (f) => `${kind}.${f.path}` in DATASET_FIELDS && f.type === "string-list",
  );
  const rest = fields.filter((f) => !inputs.includes(f) && !datasetLists.includes(f));

  return (
    <form
      className="stack"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        setSubmitted(true);
        if (validateConfig(kind, values).length > 0) return;
        launch.mutate({ kind, name: name.trim() || undefined, config: values });
      }}
    >
      <section className="card">
        <div className="card__head">
          <h2>Job kind</h2>
          {source && (
            <span className="muted">
              Starting from the config of{" "}
              <Link className="link" href={`/runs/${source.id}`}>
                {source.name}
              </Link>
            </span>
          )}
        </div>
        <fieldset className="kind-picker plain" aria-label="Job kind">
          {KINDS.map((k) => (
            <button
              key={k}
              type="button"
              className="kind"
              aria-pressed={k === kind}
              onClick={() => {
                setKind(k);
                setValues({});
                setTouched(new Set());
                setSubmitted(false);
                setServerIssues(null);
              }}
            >
              <strong>{k}</strong>
              <span>{jobConfigSchemas[k].description}</span>
            </button>
          ))}
        </fieldset>
      </section>

      {options.isError && <QueryError error={options.error} what="runs and datasets" />}

      <section className="card">
        <div className="card__head">
          <h2>Inputs</h2>
        </div>
        <div className="form-grid">
          <div className="field">
            <label className="field__label" htmlFor="run-name">
              <span>Run name</span>
            </label>
            <input
              id="run-name"
              className="input"
              value={name}
              placeholder={`${kind}-<6 hex> (default)`}
              onChange={(e) => setName(e.target.value)}
            />
            <span className="field__doc">How the run is shown and referred to (`run:&lt;name&gt;`).</span>
          </div>
          {[...inputs, ...datasetLists].map((f) => (
            <Field key={f.path} spec={f} ctx={ctx} />
          ))}
        </div>
      </section>

      <section className="card">
        <div className="card__head">
          <h2>Settings</h2>
          <span className="muted">empty fields take their default</span>
        </div>
        <div className="form-grid">
          {rest.map((f) => (
            <Field key={f.path} spec={f} ctx={ctx} />
          ))}
        </div>
      </section>

      {(submitted || serverIssues) && general.length > 0 && (
        <div className="alert" role="alert">
          {general.map((i) => (
            <p key={`${i.path}:${i.message}`}>
              {i.path && <code>{i.path}: </code>}
              {i.message}
            </p>
          ))}
        </div>
      )}
      {launch.isError && <QueryError error={launch.error} what="the launch" />}

      <div className="row">
        <button
          type="submit"
          className="btn btn--primary"
          disabled={!isAdmin || launch.isPending}
          title={isAdmin ? undefined : ADMIN_ONLY}
        >
          {launch.isPending ? "Launching…" : `Launch ${kind} run`}
        </button>
        {submitted && issues.length > 0 && (
          <span className="field__error" data-testid="form-invalid">
            {issues.length} field{issues.length === 1 ? "" : "s"} to fix
          </span>
        )}
        {!isAdmin && (
          <span className="muted">{user ? ADMIN_ONLY : "Sign in as an admin to launch runs."}</span>
        )}
      </div>
    </form>
  );
}

function Field({ spec, ctx }: { spec: FieldSpec; ctx: FieldContext }) {
  if (spec.type === "object") {
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
  const id = `field-${ctx.prefix}${spec.path}`;
  // A list of reward terms shows its own issues only: each term shows those of its fields.
  const error =
    spec.type === "reward-terms"
      ? ctx.issuesUnder(spec.path).find((i) => i.path === spec.path)?.message
      : ctx.issueOf(spec.path);
  const value = getPath(ctx.values, spec.path);
  const bounds = describeBounds(spec);
  const defaultText =
    "defaultValue" in spec
      ? typeof spec.defaultValue === "string"
        ? spec.defaultValue
        : JSON.stringify(spec.defaultValue)
      : undefined;
  const invalid = error ? "input--invalid" : "";
  const common = {
    id,
    "aria-invalid": Boolean(error),
    "aria-describedby": `${id}-doc${error ? ` ${id}-error` : ""}`,
    onBlur: () => ctx.touch(spec.path),
  };

  let input: React.ReactNode;
  const datasetKind = DATASET_FIELDS[`${ctx.scope}.${spec.path}`];
  if (spec.type === "boolean") {
    const checked = typeof value === "boolean" ? value : spec.defaultValue === true;
    input = (
      <input
        {...common}
        type="checkbox"
        checked={checked}
        onChange={(e) => {
          ctx.change(spec.path, e.target.checked);
          ctx.touch(spec.path);
        }}
      />
    );
  } else if (spec.type === "enum") {
    input = (
      <select
        {...common}
        className={`select ${invalid}`}
        value={typeof value === "string" ? value : ""}
        onChange={(e) => ctx.change(spec.path, e.target.value || undefined)}
      >
        <option value="">{defaultText ? `default (${String(spec.defaultValue)})` : "choose…"}</option>
        {spec.options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    );
  } else if (spec.type === "number") {
    input = (
      <NumberInput
        common={common}
        className={`input ${invalid}`}
        value={value}
        placeholder={defaultText}
        onChange={(v) => ctx.change(spec.path, v)}
      />
    );
  } else if (spec.type === "string-list") {
    const list = Array.isArray(value) ? (value as string[]) : undefined;
    if (datasetKind) {
      const names = ctx.options?.datasets.filter((d) => d.kind === datasetKind).map((d) => d.name) ?? [];
      const selected = list ?? (spec.defaultValue as string[] | undefined) ?? [];
      input = (
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
    } else {
      input = (
        <textarea
          {...common}
          className={`input ${invalid}`}
          rows={3}
          placeholder={(spec.defaultValue as string[] | undefined)?.join("\n")}
          value={list?.join("\n") ?? ""}
          onChange={(e) =>
            ctx.change(spec.path, e.target.value === "" ? undefined : e.target.value.split("\n"))
          }
        />
      );
    }
  } else if (spec.type === "reward-terms") {
    input = <RewardTermsInput spec={spec} ctx={ctx} Field={Field} />;
  } else if (spec.type === "json") {
    input = (
      <JsonInput
        common={common}
        className={`input ${invalid}`}
        value={value}
        placeholder={defaultText}
        onChange={(v) => ctx.change(spec.path, v)}
      />
    );
  } else if (spec.checkpoint) {
    input = (
      <CheckpointPicker common={common} className={`select ${invalid}`} spec={spec} ctx={ctx} value={value} />
    );
  } else if (datasetKind) {
    const names = ctx.options?.datasets.filter((d) => d.kind === datasetKind).map((d) => d.name) ?? [];
    input = (
      <>
        <input
          {...common}
          className={`input ${invalid}`}
          list={`${id}-list`}
          value={typeof value === "string" ? value : ""}
          placeholder={defaultText}
          onChange={(e) => ctx.change(spec.path, e.target.value || undefined)}
        />
        <datalist id={`${id}-list`}>
          {names.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
      </>
    );
  } else {
    input = (
      <input
        {...common}
        className={`input ${invalid}`}
        value={typeof value === "string" ? value : ""}
        placeholder={defaultText}
        onChange={(e) => ctx.change(spec.path, e.target.value || undefined)}
      />
    );
  }

  return (
    <div
      className={`field ${spec.type === "boolean" ? "field--checkbox" : spec.type === "reward-terms" ? "field--wide" : ""}`}
      data-field={`${ctx.prefix}${spec.path}`}
    >
      {spec.type === "boolean" && input}
      <label className="field__label" htmlFor={id}>
        <code>
          {spec.name}
          {spec.required && <span title="required"> *</span>}
        </code>
        <span className="field__bounds">
          {[bounds, defaultText !== undefined && spec.type !== "boolean" ? `default ${defaultText}` : ""]
            .filter(Boolean)
            .join(" · ")}
        </span>
      </label>
      {spec.type !== "boolean" && input}
      <span
        className="field__doc"
        id={`${id}-doc`}
        style={spec.type === "boolean" ? { gridColumn: 2 } : undefined}
      >
        {spec.description}
      </span>
      {error && (
        <span
          className="field__error"
          id={`${id}-error`}
          role="alert"
          style={spec.type === "boolean" ? { gridColumn: 2 } : undefined}
        >
          {error}
        </span>
      )}
    </div>
  );
}

/** A number as typed: text while it is not a number yet (so zod names the problem), a number once it is. */
/** A text box that keeps its own text and reports a parsed value. */
interface TextInputProps {
  common: Record<string, unknown>;
  className: string;
  value: unknown;
  placeholder?: string;
  onChange: (value: unknown) => void;
}

function NumberInput({ common, className, value, placeholder, onChange }: TextInputProps) {
  const [text, setText] = useState(value === undefined ? "" : String(value));
  useEffect(() => {
    // Follow outside changes (a config loaded to launch again), not our own keystrokes.
    const parsed = text.trim() === "" ? undefined : Number(text);
    if (value !== parsed && !(typeof value === "string" && value === text))
      setText(value === undefined ? "" : String(value));
  }, [value, text]);
  return (
    <input
      {...common}
      className={className}
      inputMode="decimal"
      value={text}
      placeholder={placeholder}
      onChange={(e) => {
        const next = e.target.value;
        setText(next);
        const trimmed = next.trim();
        onChange(trimmed === "" ? undefined : Number.isNaN(Number(trimmed)) ? trimmed : Number(trimmed));
      }}
    />
  );
}

/** JSON text; the parsed value when it parses, else the text itself (the schema then names the problem). */
function JsonInput({ common, className, value, placeholder, onChange }: TextInputProps) {
  const [text, setText] = useState(
    value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value),
  );
  return (
    <textarea
      {...common}
      className={className}
      rows={4}
      spellCheck={false}
      value={text}
      placeholder={placeholder}
      onChange={(e) => {
        const next = e.target.value;
        setText(next);
        if (next.trim() === "") return onChange(undefined);
        try {
          onChange(JSON.parse(next));
        } catch {
          onChange(next);
        }
      }}
    />
  );
}

function CheckpointPicker({
  common,
  className,
  spec,
  ctx,
  value,
}: {
  common: Record<string, unknown>;
  className: string;
  spec: FieldSpec;
  ctx: FieldContext;
  value: unknown;
}) {
  const current = typeof value === "string" ? value : "";
  const runs = ctx.options?.runs ?? [];
  const preferred = PREFERRED_INPUTS[`${ctx.scope}.${spec.path}`] ?? [];
  const fits = runs.filter((r) => preferred.includes(r.kind));
  const others = runs.filter((r) => !preferred.includes(r.kind));
  const known =
    current === "" ||
    runs.some((r) => `run:${r.id}` === current || r.checkpoints.some((c) => c.path === current));
  const [custom, setCustom] = useState(!known);
  const label = (r: (typeof runs)[number]) => `${r.name} · ${r.kind} · ${r.status}`;
  return (
    <>
      <select
        {...common}
        className={className}
        value={custom ? "__custom" : current}
        onChange={(e) => {
          if (e.target.value === "__custom") {
            setCustom(true);
            return;
          }
          setCustom(false);
          ctx.change(spec.path, e.target.value || undefined);
          ctx.touch(spec.path);
        }}
      >
        <option value="">{spec.required ? "choose a run or checkpoint…" : "none"}</option>
        {fits.length > 0 && (
          <optgroup label={`${preferred.join(" / ")} runs (their final, else latest, checkpoint)`}>
            {fits.map((r) => (
              <option key={r.id} value={`run:${r.id}`}>
                {label(r)}
              </option>
            ))}
          </optgroup>
        )}
        {fits.some((r) => r.checkpoints.length > 0) && (
          <optgroup label="A specific checkpoint">
            {fits.flatMap((r) =>
              r.checkpoints.map((c) => (
                <option key={c.id} value={c.path}>
                  {r.name} @ step {c.step}
                  {c.isFinal ? " (final)" : ""}
                </option>
              )),
            )}
          </optgroup>
        )}
        {others.length > 0 && (
          <optgroup label="Other runs">
            {others.map((r) => (
              <option key={r.id} value={`run:${r.id}`}>
                {label(r)}
              </option>
            ))}
          </optgroup>
        )}
        <option value="__custom">A checkpoint directory…</option>
      </select>
      {custom && (
        <input
          className="input"
          aria-label={`${spec.path}: checkpoint directory`}
          placeholder="path/to/checkpoint (config.json, model.safetensors, tokenizer.json)"
          value={current}
          onChange={(e) => ctx.change(spec.path, e.target.value || undefined)}
          onBlur={() => ctx.touch(spec.path)}
        />
      )}
    </>
  );
}

/** "Run the demo pipeline": the demo chain queued in one click. */
export function DemoPipelineButton() {
  const trpc = useTRPC();
  const router = useRouter();
  const { isAdmin } = useSession();
  const demo = useMutation(trpc.launch.demo.mutationOptions({ onSuccess: () => router.push("/") }));
  return (
    <section className="card">
      <div className="card__head">
        <h2>The demo pipeline</h2>
      </div>
      <p className="muted" style={{ marginTop: 0 }}>
        Pretraining → SFT → sampled completions ranked by the sentiment oracle → reward model → PPO and GRPO
        on it, with GRPO on the oracle as a reward function, RLOO and DPO as further branches from the SFT
        model: the demo project's experiment, on a model small enough for a laptop. A worker runs the stages
        in order.
      </p>
      <div className="row">
        <button
          type="button"
          className="btn btn--primary"
          disabled={!isAdmin || demo.isPending}
          title={isAdmin ? undefined : ADMIN_ONLY}
          onClick={() => demo.mutate({ quick: false })}
        >
          {demo.isPending ? "Queueing…" : "Run the demo pipeline"}
        </button>
        <button
          type="button"
          className="btn"
          disabled={!isAdmin || demo.isPending}
          title={isAdmin ? "A smaller model and far fewer steps (minutes, not an hour)" : ADMIN_ONLY}
          onClick={() => demo.mutate({ quick: true })}
        >
          Quick version
        </button>
        {demo.isError && <span className="field__error">{demo.error.message}</span>}
      </div>
    </section>
  );
}
