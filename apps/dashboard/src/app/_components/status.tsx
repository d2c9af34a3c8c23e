import type { RunStatus } from "@rlhf/core/schema";

export function StatusBadge({ status }: { status: RunStatus }) {
  return <span className={`status status--${status}`}>{status}</span>;
}

export function StageDot({ status }: { status: RunStatus }) {
  return <span className={`stage__dot stage__dot--${status}`} aria-hidden="true" />;
}

export const isActive = (status: RunStatus) => status === "queued" || status === "running";
