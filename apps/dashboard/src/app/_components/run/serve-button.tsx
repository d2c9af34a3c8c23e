"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useTranslations } from "next-intl";
import { useTRPC } from "~/trpc/react";
import { AdminButton } from "../session";

/** Kinds whose checkpoints are policies (a language model to chat with), so they can be served. */
export const SERVABLE_KINDS = ["pretrain", "sft", "ppo", "dpo", "grpo", "rloo"];

/** Launch a serve run of this checkpoint through the queue, then go to its page (endpoint, examples, stop). */
export function ServeButton({ runId, step }: { runId: string; step: number }) {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const t = useTranslations("ServeButton");
  const launch = useMutation(
    trpc.launch.run.mutationOptions({
      onSuccess: (result) => {
        void queryClient.invalidateQueries({ queryKey: trpc.runs.pathKey() });
        if (result.ok) router.push(`/runs/${result.run.id}`);
      },
    }),
  );
  const problem = launch.data && !launch.data.ok ? launch.data.issues.map((i) => i.message).join("; ") : null;
  return (
    <>
      <AdminButton
        className="btn btn--small"
        busy={launch.isPending}
        title={t("title")}
        onClick={() => launch.mutate({ kind: "serve", config: { checkpoint: `run:${runId}`, step } })}
      >
        {launch.isPending ? t("launching") : t("serve")}
      </AdminButton>
      {(problem || launch.isError) && (
        <span className="field__error">{problem ?? launch.error?.message}</span>
      )}
    </>
  );
}
