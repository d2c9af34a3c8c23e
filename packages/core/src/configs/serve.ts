import { z } from "zod";
import { backendSchema, checkpointRef } from "./common";

/**
 * Serve a policy checkpoint over the OpenAI API (`/v1/models`, `/v1/completions`, `/v1/chat/completions`)
 * until the run is cancelled. Workers run serve runs in slots of their own, so serving never holds up
 * training; the endpoint's URL is recorded in the run's summary and log.
 */
export const serveConfigSchema = z
  .object({
    backend: backendSchema,
    checkpoint: checkpointRef.describe(
      "the policy to serve: run:<run id or name> (a run still training works too), or a checkpoint directory",
    ),
    step: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        "with a run: the checkpoint at this step (default: the run's final, else latest, checkpoint)",
      ),
    host: z
      .string()
      .min(1)
      .default("127.0.0.1")
      .describe("interface to listen on (0.0.0.0 to reach the endpoint from other machines)"),
    port: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(0)
      .describe("port to listen on; 0 takes any free port (the URL is reported on the run)"),
    modelName: z
      .string()
      .min(1)
      .optional()
      .describe("the model id clients send as `model` (default: the name of the run being served)"),
  })
  .describe("Serve a checkpoint over the OpenAI API (completions and chat) until cancelled");

export type ServeConfig = z.infer<typeof serveConfigSchema>;
