"use client";

import { useTranslations } from "next-intl";
import { useState } from "react";
import type { FieldSpec } from "~/lib/config-form";
import type { FieldContext } from "./field-context";

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
  const t = useTranslations("CheckpointPicker");
  const tStatus = useTranslations("Status");
  const current = typeof value === "string" ? value : "";
  const runs = ctx.options?.runs ?? [];
  const preferred: readonly string[] = spec.type === "string" ? spec.prefer : [];
  const fits = runs.filter((r) => preferred.includes(r.kind));
  const others = runs.filter((r) => !preferred.includes(r.kind));
  const known =
    current === "" ||
    runs.some((r) => `run:${r.id}` === current || r.checkpoints.some((c) => c.path === current));
  const [custom, setCustom] = useState(!known);
  const label = (r: (typeof runs)[number]) => `${r.name} · ${r.kind} · ${tStatus(r.status)}`;
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
        <option value="">{spec.required ? t("choose") : t("none")}</option>
        {fits.length > 0 && (
          <optgroup label={t("fits", { kinds: preferred.join(" / ") })}>
            {fits.map((r) => (
              <option key={r.id} value={`run:${r.id}`}>
                {label(r)}
              </option>
            ))}
          </optgroup>
        )}
        {fits.some((r) => r.checkpoints.length > 0) && (
          <optgroup label={t("specific")}>
            {fits.flatMap((r) =>
              r.checkpoints.map((c) => (
                <option key={c.id} value={c.path}>
                  {t(c.isFinal ? "atStepFinal" : "atStep", { name: r.name, step: c.step })}
                </option>
              )),
            )}
          </optgroup>
        )}
        {others.length > 0 && (
          <optgroup label={t("others")}>
            {others.map((r) => (
              <option key={r.id} value={`run:${r.id}`}>
                {label(r)}
              </option>
            ))}
          </optgroup>
        )}
        <option value="__custom">{t("directory")}</option>
      </select>
      {custom && (
        <input
          className="input"
          aria-label={t("directoryLabel", { path: spec.path })}
          placeholder={t("directoryPlaceholder")}
          value={current}
          onChange={(e) => ctx.change(spec.path, e.target.value || undefined)}
          onBlur={() => ctx.touch(spec.path)}
        />
      )}
    </>
  );
}
