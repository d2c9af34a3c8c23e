"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { useEffect, useRef, useState } from "react";
import { useTRPC } from "~/trpc/react";
import { AdminButton } from "../session";

/**
 * Cancel with a confirmation: a queued run stops at once, a running one at its next step (checkpointed).
 * `serving`: the run is a served model, for which cancelling is "stop serving".
 */
export function CancelButton({
  runId,
  runName,
  running,
  serving = false,
}: {
  runId: string;
  runName: string;
  running: boolean;
  serving?: boolean;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const t = useTranslations("CancelButton");
  const [open, setOpen] = useState(false);
  const confirm = useRef<HTMLButtonElement>(null);
  const cancel = useMutation(
    trpc.launch.cancel.mutationOptions({
      onSuccess: () => {
        setOpen(false);
        void queryClient.invalidateQueries({ queryKey: trpc.runs.pathKey() });
      },
    }),
  );
  useEffect(() => {
    if (open) confirm.current?.focus();
  }, [open]);

  return (
    <>
      <AdminButton className="btn btn--danger" onClick={() => setOpen(true)}>
        {serving ? t("stopServing") : t("cancelRun")}
      </AdminButton>
      {open && (
        <div className="dialog-backdrop">
          <div
            className="dialog"
            role="alertdialog"
            aria-modal="true"
            aria-labelledby="cancel-title"
            aria-describedby="cancel-desc"
            onKeyDown={(e) => e.key === "Escape" && setOpen(false)}
          >
            <h2 id="cancel-title">{t("title", { name: runName })}</h2>
            <p id="cancel-desc" className="muted">
              {serving && running ? t("serving") : running ? t("running") : t("queued")}
            </p>
            {cancel.isError && <p className="field__error">{cancel.error.message}</p>}
            <div className="dialog__actions">
              <button type="button" className="btn" onClick={() => setOpen(false)}>
                {t("keep")}
              </button>
              <button
                ref={confirm}
                type="button"
                className="btn btn--primary"
                style={{ background: "var(--down)", borderColor: "var(--down)" }}
                disabled={cancel.isPending}
                onClick={() => cancel.mutate({ id: runId })}
              >
                {cancel.isPending ? t("cancelling") : t("confirm")}
              </button>
            </div>
          </div>
        </div>
      )}
    </>
  );
}
