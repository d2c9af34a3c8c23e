"use client";

import type { RunStatus } from "@rlhf/core/schema";
import { useTranslations } from "next-intl";

/** A run's status in the reader's language; `data-status` keeps the identifier. */
export function StatusBadge({ status }: { status: RunStatus }) {
  const t = useTranslations("Status");
  return (
    <span className={`status status--${status}`} data-status={status}>
      {t(status)}
    </span>
  );
}

export function StageDot({ status }: { status: RunStatus }) {
  return <span className={`stage__dot stage__dot--${status}`} aria-hidden="true" />;
}

export const isActive = (status: RunStatus) => status === "queued" || status === "running";
