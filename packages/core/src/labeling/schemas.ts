/**
 * What the labeler sends: one zod schema per input, shared by the tRPC routers, the forms and the tests.
 */
import { z } from "zod";
import { RESPONSE_FLAGS } from "../db/schema";

export type ResponseFlag = (typeof RESPONSE_FLAGS)[number];

/** How each flag reads on screen (OpenAssistant's flags). */
export const FLAG_LABELS: Record<ResponseFlag, string> = {
  spam: "Spam",
  harmful: "Harmful",
  wrong_language: "Not in the prompt's language",
  fails_task: "Fails the task",
};

export const nextTaskInputSchema = z.object({
  datasetId: z.uuid(),
});

export const submitRankingSchema = z
  .object({
    taskId: z.uuid(),
    /** Groups of completion ids, best first; a group of two or more is a tie. Absent when skipped or all bad. */
    ranking: z.array(z.array(z.string().min(1)).min(1, "a group must not be empty")).nullish(),
    skipped: z.boolean().default(false),
    /** "Both bad" / "none is acceptable": nothing is ordered. */
    allBad: z.boolean().default(false),
    /** Pairwise only: 1 = slightly better, 2 = much better. */
    strength: z.union([z.literal(1), z.literal(2)]).nullish(),
    flags: z.record(z.string(), z.array(z.enum(RESPONSE_FLAGS)).max(RESPONSE_FLAGS.length)).default({}),
    note: z.string().max(4000, "a note is at most 4000 characters").optional(),
    /** Time from the task being shown to the submission. */
    timeMs: z
      .number()
      .int()
      .min(0)
      .max(24 * 3600 * 1000)
      .optional(),
    /** Chosen by the client once per submission; a retry with the same key stores nothing new. */
    idempotencyKey: z.string().min(8).max(100),
    /**
     * With a dataset id, the reply also carries the annotator's next task in it: one round trip per
     * answer instead of two (the labeler's page and the load bench use this).
     */
    nextIn: z.uuid().optional(),
    /** An admin answering a task that was not handed to them, openly (refused for anyone else). */
    asAdmin: z.boolean().optional(),
  })
  .refine((s) => !(s.skipped && s.allBad), { message: "an answer is either skipped or all bad, not both" });

export type SubmitRankingInput = z.input<typeof submitRankingSchema>;

export const datasetRefSchema = z.object({ datasetId: z.uuid() });
