import { UserError } from "@rlhf/core/auth";
import { ConfigError } from "@rlhf/core/configs";
import { ImportError } from "@rlhf/core/formats";
import { LabelingError } from "@rlhf/core/labeling";
import { TRPCError } from "@trpc/server";

/**
 * Run `fn`, turning the core's rule errors into tRPC answers with their message (which says what to fix);
 * anything else stays a server fault.
 */
export async function answering<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof LabelingError)
      throw new TRPCError({ code: error.code, message: error.message, cause: error });
    if (error instanceof UserError || error instanceof ImportError || error instanceof ConfigError) {
      // The cause carries the message as codes (an import's lines) for a page in another language.
      throw new TRPCError({ code: "BAD_REQUEST", message: error.message, cause: error });
    }
    throw error;
  }
}
