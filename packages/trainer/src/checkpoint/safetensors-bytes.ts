/**
 * The safetensors file format (huggingface/safetensors): an 8-byte little-endian header length N, N bytes
 * of JSON header, then the tensor data. The header maps each tensor name to
 * `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the end of the header) and may carry a
 * `__metadata__` map of strings.
 *
 * This module decodes bytes already in memory and needs nothing but the JavaScript standard library, so it
 * runs in a browser too; reading and writing files is `./safetensors`.
 */

export type SafetensorsDtype = "F32" | "F16" | "BF16" | "I32" | "I64";

/** A tensor read back. F16 and BF16 are widened to Float32Array. */
export interface LoadedTensor {
  /** The dtype stored in the file (before any widening). */
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Int32Array | BigInt64Array;
}

export interface SafetensorsContents {
  /** In file-offset order. */
  tensors: Map<string, LoadedTensor>;
  /** The `__metadata__` map; empty when the file has none. */
  metadata: Record<string, string>;
}

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 };
/** Dtypes the format defines but this reader does not convert; named so the error can say "not supported". */
const OTHER_DTYPES = ["F64", "F8_E4M3", "F8_E5M2", "I8", "I16", "U8", "U16", "U32", "U64", "BOOL"];
/** The reference implementation refuses larger headers; so do we, rather than parse 100 MB of JSON. */
const MAX_HEADER_BYTES = 100_000_000;
export const METADATA_KEY = "__metadata__";

export const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function product(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

let f16Table: Float32Array | undefined;

/** IEEE 754 half-precision bits → number. */
export function f16ToF32(bits: number): number {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exponent = (h >> 10) & 0x1f;
      const mantissa = h & 0x3ff;
      f16Table[h] =
        exponent === 0
          ? sign * mantissa * 2 ** -24 // subnormal (and ±0)
          : exponent === 31
            ? mantissa === 0
              ? sign * Number.POSITIVE_INFINITY
              : Number.NaN
            : sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
    }
  }
  return f16Table[bits & 0xffff]!;
}

const bf16Scratch = new Float32Array(1);
const bf16ScratchBits = new Uint32Array(bf16Scratch.buffer);

/** bfloat16 bits → number: bfloat16 is the top half of a float32. */
export function bf16ToF32(bits: number): number {
  bf16ScratchBits[0] = (bits & 0xffff) << 16;
  return bf16Scratch[0]!;
}

function decodeData(dtype: SafetensorsDtype, bytes: Uint8Array): LoadedTensor["data"] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / BYTES_PER_ELEMENT[dtype];
  switch (dtype) {
    case "F32": {
      // Copy into a fresh, aligned buffer: the file's offsets need not be 4-byte aligned in memory, and
      // the tensors should not keep the whole file alive.
      if (littleEndianHost) return new Float32Array(new Uint8Array(bytes).buffer);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    }
    case "I32": {
      if (littleEndianHost) return new Int32Array(new Uint8Array(bytes).buffer);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true);
      return out;
    }
    case "I64": {
      if (littleEndianHost) return new BigInt64Array(new Uint8Array(bytes).buffer);
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getBigInt64(i * 8, true);
      return out;
    }
    case "F16": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f16ToF32(view.getUint16(i * 2, true));
      return out;
    }
    case "BF16": {
      const out = new Float32Array(n);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) outBits[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
  }
}

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parses a safetensors file held in memory. Validates like the reference implementation: header inside
 * the file, known dtypes, shape × dtype size equal to the byte span, and tensors tiling the data section
 * with no overlap, gap or overhang. `source` (e.g. the path) prefixes every error.
 */
export function decodeSafetensors(buffer: Uint8Array, source = "safetensors data"): SafetensorsContents {
  const fail = (message: string): never => {
    throw new Error(`${source}: ${message}`);
  };
  if (buffer.length < 8) {
    fail(`file is ${buffer.length} bytes; a safetensors file starts with an 8-byte header length`);
  }
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(buffer.length - 8)) {
    fail(
      `header length is ${headerLength} bytes but only ${buffer.length - 8} bytes follow the 8-byte prefix ` +
        "(truncated file, or not a safetensors file)",
    );
  }
  const n = Number(headerLength);
  if (n > MAX_HEADER_BYTES) fail(`header length ${n} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`);

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(buffer.subarray(8, 8 + n)));
  } catch (error) {
    fail(`header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    return fail("header is not a JSON object");
  }

  const metadata: Record<string, string> = Object.create(null);
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (typeof value !== "object" || value === null || Array.isArray(value))
        fail(`${METADATA_KEY} is not an object`);
      for (const [key, item] of Object.entries(value as object)) {
        if (typeof item !== "string")
          fail(`${METADATA_KEY}["${key}"] is ${JSON.stringify(item)}; expected a string`);
        metadata[key] = item as string;
      }
      continue;
    }
    const where = `tensor "${name}"`;
    if (typeof value !== "object" || value === null) return fail(`${where}: entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== "string" || !Object.hasOwn(BYTES_PER_ELEMENT, dtype)) {
      fail(
        OTHER_DTYPES.includes(dtype as string)
          ? `${where}: dtype ${dtype} is not supported (supported: ${Object.keys(BYTES_PER_ELEMENT).join(", ")})`
          : `${where}: unknown dtype ${JSON.stringify(dtype)}`,
      );
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      return fail(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      return fail(
        `${where}: data_offsets ${JSON.stringify(offsets)} is not [begin, end] with 0 ≤ begin ≤ end`,
      );
    }
    const [begin, end] = offsets as [number, number];
    const expected = product(shape) * BYTES_PER_ELEMENT[dtype as SafetensorsDtype];
    if (end - begin !== expected) {
      fail(
        `${where}: shape ${JSON.stringify(shape)} × ${dtype} (${BYTES_PER_ELEMENT[dtype as SafetensorsDtype]} bytes) ` +
          `is ${expected} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
      );
    }
    entries.push({ name, dtype: dtype as SafetensorsDtype, shape, begin, end });
  }

  const dataStart = 8 + n;
  const dataLength = buffer.length - dataStart;
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: HeaderEntry | undefined;
  for (const entry of entries) {
    const span = `data_offsets [${entry.begin}, ${entry.end}]`;
    if (entry.end > dataLength) {
      fail(`tensor "${entry.name}": ${span} run past the ${dataLength}-byte data section`);
    }
    if (entry.begin < covered) {
      fail(
        `tensor "${entry.name}": ${span} overlap tensor "${previous?.name}" [${previous?.begin}, ${previous?.end}]`,
      );
    }
    if (entry.begin > covered) {
      fail(`tensor "${entry.name}": ${span} leave a gap after byte ${covered} (tensors must be contiguous)`);
    }
    covered = entry.end;
    previous = entry;
  }
  if (covered !== dataLength) {
    fail(`tensors cover ${covered} bytes but the data section has ${dataLength} (trailing bytes)`);
  }

  const tensors = new Map<string, LoadedTensor>();
  for (const { name, dtype, shape, begin, end } of entries) {
    const bytes = buffer.subarray(dataStart + begin, dataStart + end);
    tensors.set(name, { dtype, shape, data: decodeData(dtype, bytes) });
  }
  return { tensors, metadata };
}
