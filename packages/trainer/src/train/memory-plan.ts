/**
 * The up-front memory plan every supervised trainer makes on wasm (pretraining, SFT, the reward model,
 * DPO): a batch that would not fit the heap is split into the largest micro-batch that does, accumulated
 * to the same update (said in the log); a run that cannot fit even one element is the config's error,
 * raised before the first step with what it needs and what to change — not a crash mid-run.
 */
import type { GPT } from "../model";
import { MemoryPlanError, planModelMicroBatch } from "../parallel/memory";
import { optimizerKind } from "./adamw";
import { type JobContext, JobInputError } from "./context";

export interface MicroBatchSplitOptions {
  /** Elements of one micro-step of the config (its batchSize). */
  items: number;
  /** Sequences per element (a ranking's completions, DPO's chosen + rejected; default 1). */
  rowsPerItem?: number;
  /** Tokens of the longest sequence. */
  seqLen: number;
  gradAccumSteps: number;
  /** Data-parallel worker threads the run will have (dataParallelWorkers). */
  workers: number;
  /** How the loss reads the model: its LM head fused or whole, or only a score head. */
  head: "fused" | "logits" | "scores";
  /** The elements' name in the log ("sequences", "rankings", "pairs"). */
  what: string;
}

/** Into how many equal parts each micro-step's batch is split to fit the wasm heap (1: whole). */
export function microBatchSplit(ctx: JobContext, model: GPT, o: MicroBatchSplitOptions): number {
  if (ctx.backend.name !== "wasm") return 1;
  try {
    const plan = planModelMicroBatch(model, o.items, o.seqLen, {
      optimizer: optimizerKind(model.trainableParams()),
      fusedLmHead: o.head === "fused",
      scoresOnly: o.head === "scores",
      gradAccumSteps: o.gradAccumSteps,
      rowsPerItem: o.rowsPerItem,
      workers: o.workers,
      what: o.what,
    });
    if (plan.message) ctx.log(plan.message);
    return plan.accumulation;
  } catch (error) {
    if (error instanceof MemoryPlanError) throw new JobInputError(error.message);
    throw error;
  }
}
