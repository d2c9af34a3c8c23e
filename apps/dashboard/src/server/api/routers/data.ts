import {
  DatasetImportError,
  IMPORT_DATASET_KINDS,
  importDataset,
  MAX_IMPORT_BYTES,
} from "@rlhf/core/datasets";
import { expectationText, ImportError } from "@rlhf/core/formats";
import { adminProcedure, createTRPCRouter } from "@rlhf/core/trpc";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { dataOverview } from "~/server/queries/data";
import { readProcedure } from "../read";

/** Bad lines sent back to the form at most; the count says how many there were in all. */
const MAX_PROBLEMS_SHOWN = 100;

export const dataRouter = createTRPCRouter({
  /** Datasets with sizes, labeling progress, agreement and preference pairs. */
  overview: readProcedure.query(({ ctx }) => dataOverview(ctx.db)),

  /**
   * Import a text corpus, SFT pairs or prompts (the core's `importDataset`, as `rlhf import` does). A file
   * with bad lines is an answer, not an error: every bad line by number, field and reason, for the form.
   */
  importDataset: adminProcedure
    .input(
      z.object({
        kind: z.enum(IMPORT_DATASET_KINDS),
        name: z.string().trim().min(1, "name the dataset").max(100),
        // Characters ≤ UTF-8 bytes, so this never refuses a file the core's byte cap would take.
        content: z.string().min(1, "the file is empty").max(MAX_IMPORT_BYTES, "the file is over 50 MB"),
        format: z.enum(["jsonl", "txt"]).default("jsonl"),
        evalFraction: z.number().min(0).lt(1).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      try {
        const result = await importDataset(ctx.db, {
          ...input,
          description: `imported in the dashboard by ${ctx.session.user.email}`,
        });
        return { ok: true as const, result };
      } catch (error) {
        if (error instanceof ImportError) {
          return {
            ok: false as const,
            // Each problem's words also as a code, for a page in another language.
            problems: error.problems
              .slice(0, MAX_PROBLEMS_SHOWN)
              .map((p) => ({ ...p, expected: expectationText(p.message) })),
            total: error.problems.length,
          };
        }
        if (error instanceof DatasetImportError)
          throw new TRPCError({ code: "BAD_REQUEST", message: error.message, cause: error });
        throw error;
      }
    }),
});
