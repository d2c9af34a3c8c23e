"use client";

import { useState } from "react";
import type { FieldSpec } from "~/lib/config-form";
import type { FieldContext } from "./field-context";
import { PREFERRED_INPUTS } from "./input-meta";

export function CheckpointPicker({
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
