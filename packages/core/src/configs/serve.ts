import { z } from "zod";
import { backendSchema, checkpointRef } from "./common";

/**
 * What one request may ask of a server by default: one small request must not turn into thousands of
 * generations (a prompt array × n) or an unbounded generation.
 */
export const SERVE_LIMITS = { maxChoices: 16, maxTokens: 1024 };

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
    apiKey: z
      .string()
      .min(16, "at least 16 characters")
      .max(200)
      .optional()
      .describe(
        "clients must send `Authorization: Bearer <apiKey>`; the dashboard generates one for the serve runs it launches and shows it to admins only",
      ),
    corsOrigins: z
      .array(z.string().min(1))
      .default([])
      .describe(
        'web pages (origins such as "https://app.example") allowed to call the endpoint from a browser; ["*"] for any; none by default',
      ),
    maxChoices: z
      .number()
      .int()
      .min(1)
      .max(1024)
      .default(SERVE_LIMITS.maxChoices)
      .describe(
        "most completions one request may ask for: prompts × n (a bigger request is a 400 naming n or prompt)",
      ),
    maxTokens: z
      .number()
      .int()
      .min(1)
      .max(65_536)
      .default(SERVE_LIMITS.maxTokens)
      .describe(
        "most new tokens per completion a request may ask for (a bigger max_tokens is a 400 naming it)",
      ),
  })
  .describe("Serve a checkpoint over the OpenAI API (completions and chat) until cancelled");

export type ServeConfig = z.infer<typeof serveConfigSchema>;
