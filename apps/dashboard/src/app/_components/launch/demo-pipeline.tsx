"use client";

import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useTranslations } from "next-intl";
import { useTRPC } from "~/trpc/react";
import { useSession } from "../session";

/** "Run the demo pipeline": the demo chain queued in one click. */
export function DemoPipelineButton() {
  const trpc = useTRPC();
  const router = useRouter();
  const t = useTranslations("DemoPipeline");
  const { isAdmin, adminOnly } = useSession();
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
        <button
          type="button"
          className="btn btn--primary"
          disabled={!isAdmin || demo.isPending}
          title={isAdmin ? undefined : adminOnly}
          onClick={() => demo.mutate({ quick: false })}
        >
          {demo.isPending ? t("queueing") : t("run")}
        </button>
        <button
          type="button"
          className="btn"
          disabled={!isAdmin || demo.isPending}
          title={isAdmin ? t("quickTitle") : adminOnly}
          onClick={() => demo.mutate({ quick: true })}
        >
          {t("quick")}
        </button>
        {demo.isError && <span className="field__error">{demo.error.message}</span>}
      </div>
    </section>
  );
}
