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
import { eq } from "@rlhf/core/trpc";

export const CHECKPOINT_FILES = {
  "config.json": "application/json",
  "model.safetensors": "application/octet-stream",
  "tokenizer.json": "application/json",
} as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const problem = (status: number, error: string) =>
  new Response(JSON.stringify({ error }), { status, headers: { "content-type": "application/json" } });

export function createCheckpointFileHandler(getDatabase: () => Promise<Database>) {
  return async function GET(
    _request: Request,
    { params }: { params: Promise<{ id: string; file: string }> },
  ): Promise<Response> {
    const { id, file } = await params;
    if (!Object.hasOwn(CHECKPOINT_FILES, file)) {
      return problem(
        404,
        `no such checkpoint file "${file}"; one of ${Object.keys(CHECKPOINT_FILES).join(", ")}`,
      );
    }
    if (!UUID.test(id)) return problem(404, `no checkpoint ${id}`);
    const { db } = await getDatabase();
    const [checkpoint] = await db
      .select({ path: checkpoints.path })
      .from(checkpoints)
      .where(eq(checkpoints.id, id));
    if (!checkpoint) return problem(404, `no checkpoint ${id}`);
    const filePath = path.join(checkpoint.path, file);
    let size: number;
    try {
      size = (await stat(filePath)).size;
    } catch {
      return problem(
        404,
        `${file} of checkpoint ${id} is not readable from this server (is the artifact directory shared?)`,
      );
    }
    const body = Readable.toWeb(createReadStream(filePath)) as ReadableStream<Uint8Array>;
    return new Response(body, {
      headers: {
        "content-type": CHECKPOINT_FILES[file as keyof typeof CHECKPOINT_FILES],
        "content-length": String(size),
        // A checkpoint directory is written once (atomically renamed into place) and never changed.
        "cache-control": "private, max-age=31536000, immutable",
      },
    });
  };
}
