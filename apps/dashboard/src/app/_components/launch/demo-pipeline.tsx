"use client";

import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useTRPC } from "~/trpc/react";
import { ADMIN_ONLY, useSession } from "../session";

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
