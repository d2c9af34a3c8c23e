/**
 * safetensors files on disk: an atomic writer and a reader. The format itself — types, validation and
 * decoding of bytes in memory — is `./safetensors-bytes` (no Node imports, shared with the browser);
 * it is re-exported here so existing imports keep working.
 */

import { open, readFile, rename, rm } from "node:fs/promises";
import {
  decodeSafetensors,
  littleEndianHost,
  METADATA_KEY,
  product,
  type SafetensorsContents,
} from "./safetensors-bytes";

export {
  bf16ToF32,
  decodeSafetensors,
  f16ToF32,
  type LoadedTensor,
  type SafetensorsContents,
  type SafetensorsDtype,
} from "./safetensors-bytes";

/** What `writeSafetensors` accepts: training only ever saves float32. */
export interface F32Tensor {
  dtype: "F32";
  shape: number[];
  data: Float32Array;
}

/** The header JSON, space-padded so the data starts 8-byte aligned (the reference writer does the same). */
function encodeHeader(
  tensors: Record<string, F32Tensor>,
  metadata: Record<string, string> | undefined,
): Buffer {
  // Null prototype: a tensor named "__proto__" must become a key, not replace the prototype.
  const header: Record<string, unknown> = Object.create(null);
  if (metadata !== undefined) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== "string") {
        throw new Error(`safetensors metadata["${key}"] is ${typeof value}; the format only allows strings`);
      }
    }
    header[METADATA_KEY] = metadata;
  }
  let offset = 0;
  for (const [name, tensor] of Object.entries(tensors)) {
    if (name === METADATA_KEY)
      throw new Error(`safetensors: "${METADATA_KEY}" is reserved, not a tensor name`);
    if (tensor.dtype !== "F32") {
      throw new Error(`tensor "${name}": dtype ${String(tensor.dtype)} cannot be written; expected "F32"`);
    }
    if (!tensor.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(
        `tensor "${name}": shape ${JSON.stringify(tensor.shape)} must be non-negative integers`,
      );
    }
    const elements = product(tensor.shape);
    if (elements !== tensor.data.length) {
      throw new Error(
        `tensor "${name}": shape ${JSON.stringify(tensor.shape)} has ${elements} elements ` +
          `but data has ${tensor.data.length}`,
      );
    }
    const bytes = elements * 4;
    header[name] = { dtype: "F32", shape: tensor.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const padded = Buffer.alloc(Math.ceil(json.length / 8) * 8, 0x20);
  json.copy(padded);
  const out = Buffer.alloc(8 + padded.length);
  out.writeBigUInt64LE(BigInt(padded.length), 0);
  padded.copy(out, 8);
  return out;
}

/** A float32 array's bytes, little-endian as the format requires, without copying on little-endian hosts. */
function littleEndianBytes(data: Float32Array): Uint8Array {
  if (littleEndianHost) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  return out;
}

/** The whole file in memory. Tensors are stored in the order of `Object.keys(tensors)`. */
export function encodeSafetensors(
  tensors: Record<string, F32Tensor>,
  metadata?: Record<string, string>,
): Buffer {
  const header = encodeHeader(tensors, metadata);
  const parts = [header, ...Object.values(tensors).map((t) => littleEndianBytes(t.data))];
  return Buffer.concat(parts);
}

/**
 * Writes a safetensors file atomically: to `path.tmp`, fsync, then rename over `path`, so a crash mid-save
 * leaves the previous checkpoint intact. Tensor data is streamed from the arrays, not copied into one buffer.
 */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, F32Tensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  const header = encodeHeader(tensors, metadata);
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, "w");
  try {
    let position = 0;
    for (const chunk of [header, ...Object.values(tensors).map((t) => littleEndianBytes(t.data))]) {
      // A single write() may be partial (Linux caps one call at ~2 GiB); loop until the chunk is out.
      let written = 0;
      while (written < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, written, chunk.length - written, position);
        written += bytesWritten;
        position += bytesWritten;
      }
    }
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  await rename(tmp, path);
}

/** Reads and validates a safetensors file; errors name the path and the offending tensor. */
export async function readSafetensors(path: string): Promise<SafetensorsContents> {
  return decodeSafetensors(await readFile(path), path);
}
