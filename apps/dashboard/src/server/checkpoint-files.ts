/**
 * `GET /api/checkpoints/<checkpoint id>/<file>`: the three files of a checkpoint directory that a model
 * needs to run elsewhere — `config.json`, `model.safetensors`, `tokenizer.json` (Hugging Face's names) —
 * streamed from the checkpoint directory (the workers' shared artifact directory, which this server must
 * see). Only those names are served, and only for checkpoints recorded in the database.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import type { Database } from "@rlhf/core/db";
import { checkpoints } from "@rlhf/core/schema";
import { eq, getSession } from "@rlhf/core/trpc";

export const CHECKPOINT_FILES = {
  "config.json": "application/json",
  "model.safetensors": "application/octet-stream",
  "tokenizer.json": "application/json",
} as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const problem = (status: number, error: string) =>
  new Response(JSON.stringify({ error }), { status, headers: { "content-type": "application/json" } });

export type CheckpointFileName = keyof typeof CHECKPOINT_FILES;

/** Where a checkpoint's file is on this server's disk, or why it cannot be read (with its HTTP status). */
export async function locateCheckpointFile(
  getDb: () => Promise<Database["db"]>,
  id: string,
  file: string,
): Promise<{ path: string; size: number } | { status: number; error: string }> {
  if (!Object.hasOwn(CHECKPOINT_FILES, file)) {
    return {
      status: 404,
      error: `no such checkpoint file "${file}"; one of ${Object.keys(CHECKPOINT_FILES).join(", ")}`,
    };
  }
  if (!UUID.test(id)) return { status: 404, error: `no checkpoint ${id}` };
  const [checkpoint] = await (await getDb())
    .select({ path: checkpoints.path })
    .from(checkpoints)
    .where(eq(checkpoints.id, id));
  if (!checkpoint) return { status: 404, error: `no checkpoint ${id}` };
  const filePath = path.join(checkpoint.path, file);
  try {
    return { path: filePath, size: (await stat(filePath)).size };
  } catch {
    return {
      status: 404,
      error: `${file} of checkpoint ${id} is not readable from this server (is the artifact directory shared?)`,
    };
  }
}

/** Weights leave the server only for people with an account. */
export function createCheckpointFileHandler(getDatabase: () => Promise<Database>) {
  return async function GET(
    request: Request,
    { params }: { params: Promise<{ id: string; file: string }> },
  ): Promise<Response> {
    const { id, file } = await params;
    const session = await getSession(request.headers, (await getDatabase()).db);
    if (!session) return problem(401, "sign in to download a checkpoint's files");
    const located = await locateCheckpointFile(async () => (await getDatabase()).db, id, file);
    if ("error" in located) return problem(located.status, located.error);
    // The path is a checkpoint directory known only at run time, not a file of the app to trace for deployment.
    const body = Readable.toWeb(
      createReadStream(/*turbopackIgnore: true*/ located.path),
    ) as ReadableStream<Uint8Array>;
    return new Response(body, {
      headers: {
        "content-type": CHECKPOINT_FILES[file as CheckpointFileName],
        "content-length": String(located.size),
        // A checkpoint directory is written once (atomically renamed into place) and never changed.
        "cache-control": "private, max-age=31536000, immutable",
      },
    });
  };
}
