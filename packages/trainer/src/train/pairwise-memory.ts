/**
 * The up-front memory check of the trainers whose batch element is two or more sequences (the reward model's
 * rankings, DPO's pairs): on wasm, a batch that cannot fit the heap is reported before the first step with
 * a batch size that would fit; a model that cannot fit at all is the config's error, not a crash mid-run.
 */
import { type JobContext, JobInputError } from "./context";
import type { GPT } from "../model";
import { checkBatchMemory, MemoryPlanError } from "../parallel/memory";
import { optimizerKind } from "./adamw";

export function checkPairwiseBatchMemory(
  model: GPT,
  ctx: JobContext,
  config: { batchSize: number; gradAccumSteps: number },
  maxLength: number,
): void {
  try {
    checkBatchMemory(model, {
      backend: ctx.backend.name,
      batchSize: config.batchSize,
      rowsPerItem: 2,
      seqLen: maxLength,
      gradAccumSteps: config.gradAccumSteps,
      optimizer: optimizerKind(model.trainableParams()),
      log: (message, level) => ctx.log(message, level),
    });
  } catch (error) {
    if (error instanceof MemoryPlanError) throw new JobInputError(error.message);
    throw error;
  }
}
