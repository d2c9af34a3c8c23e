"use client";

import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useTranslations } from "next-intl";
import { useTRPC } from "~/trpc/react";
import { AdminButton } from "../session";

/** "Run the demo pipeline": the demo chain queued in one click. */
export function DemoPipelineButton() {
  const trpc = useTRPC();
  const router = useRouter();
  const t = useTranslations("DemoPipeline");
  const demo = useMutation(trpc.launch.demo.mutationOptions({ onSuccess: () => router.push("/") }));
  return (
    <section className="card">
      <div className="card__head">
        <h2>{t("heading")}</h2>
      </div>
      <p className="muted" style={{ marginTop: 0 }}>
        {t("lead")}
      </p>
      <div className="row">
        <AdminButton
          className="btn btn--primary"
          busy={demo.isPending}
          onClick={() => demo.mutate({ quick: false })}
        >
          {demo.isPending ? t("queueing") : t("run")}
        </AdminButton>
        <AdminButton
          className="btn"
          busy={demo.isPending}
          title={t("quickTitle")}
          onClick={() => demo.mutate({ quick: true })}
        >
          {t("quick")}
        </AdminButton>
        {demo.isError && <span className="field__error">{demo.error.message}</span>}
      </div>
    </section>
  );
}
