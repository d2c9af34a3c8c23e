import { eq, sql } from "drizzle-orm";
import type { Database } from "../db/open";
import { type RunStatus, runs } from "../db/schema";
import { queueFor } from "./boss";
import { finishRun } from "./lifecycle";
import { getRun } from "./refs";
import { transaction } from "./tx";

export interface CancelResult {
  id: string;
  name: string;
  /** The run's status after the call: `cancelled` at once for a queued run, still `running` until it stops. */
  status: RunStatus;
  /**
   * `cancelled`: it was queued and is cancelled now; `requested`: it is running and its worker stops it
   * within seconds (keeping its last checkpoint); `finished`: it had already ended, nothing changed.
   */
  outcome: "cancelled" | "requested" | "finished";
}

/**
 * Cancel a run (by id or name), for `rlhf runs cancel` and the dashboard's stop button. A queued run is
 * cancelled at once and its job withdrawn; a running one gets `cancel_requested_at`, which its worker
 * polls every second — the job checkpoints and stops, and the worker marks it cancelled. Runs waiting on
 * it fail ("input run … was cancelled").
 */
export async function cancelRun(database: Database, ref: string): Promise<CancelResult> {
  const { id } = await getRun(database.db, ref);
  const boss = await queueFor(database);
  return transaction(database, async (tx) => {
    const [run] = await tx.db.select().from(runs).where(eq(runs.id, id)).for("update");
    if (!run) return { id, name: ref, status: "cancelled" as RunStatus, outcome: "finished" as const };
    if (run.status === "queued") {
      await finishRun(tx, boss, run, "cancelled");
      return { id, name: run.name, status: "cancelled", outcome: "cancelled" };
    }
    if (run.status === "running") {
      await tx.db
        .update(runs)
        .set({ cancelRequestedAt: sql`coalesce(${runs.cancelRequestedAt}, now())` })
        .where(eq(runs.id, id));
      return { id, name: run.name, status: "running", outcome: "requested" };
    }
    return { id, name: run.name, status: run.status, outcome: "finished" };
  });
}
