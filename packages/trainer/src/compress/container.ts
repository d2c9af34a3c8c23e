/**
 * The compressed file: what decoding needs to reproduce the model's distributions, the coded tokens, and
 * a checksum over both.
 *
 *   "RLHFLM" (6 bytes) · format version (1 byte) · header length (u32 LE) · header (UTF-8 JSON)
 *   · payload (the arithmetic coder's bytes, `payloadBytes` long) · SHA-256 of everything before it (32 bytes)
 *
 * No Node imports: SHA-256 comes from Web Crypto (`crypto.subtle`), in Node 20 and in browsers alike.
 */

export const MAGIC = "RLHFLM";
export const FORMAT_VERSION = 1;
const PREFIX_BYTES = MAGIC.length + 1 + 4;
const CHECKSUM_BYTES = 32;

/** What a decoder must match or know, recorded by the encoder. */
export interface CompressedHeader {
  formatVersion: number;
  checkpoint: {
    /** How the user named it (`run:demo-pretrain`, a directory, a playground checkpoint id). */
    ref: string;
    /** SHA-256 of the config and the LM's weights (see `modelFingerprint`). */
    modelSha256: string;
    /** SHA-256 of the tokenizer's vocabulary, merges and added tokens. */
    tokenizerSha256: string;
  };
  /** What computes the probabilities (backend, device, replaced kernels, tfjs version, JS runtime). */
  numerics: string;
  /** tfjs backend name, so a decoder can switch to it. */
  backend: string;
  /** Tokens per chunk: each chunk is coded with a fresh context that starts at <|endoftext|>. */
  contextTokens: number;
  /** Chunks coded side by side as one batch. */
  lanes: number;
  /** Frequency total of the quantised distributions. */
  frequencyTotal: number;
  /** Tokens coded. */
  tokens: number;
  /** Bytes of the original. */
  bytes: number;
  /** SHA-256 of the original bytes: the decoder checks its output against it. */
  contentSha256: string;
  /** Length of the coded payload. */
  payloadBytes: number;
}

export class CompressedFileError extends Error {
  override name = "CompressedFileError";
}

export async function sha256Hex(data: Uint8Array | readonly Uint8Array[]): Promise<string> {
  const parts = data instanceof Uint8Array ? [data] : data;
  let length = 0;
  for (const p of parts) length += p.length;
  const joined = parts.length === 1 ? parts[0]! : new Uint8Array(length);
  if (parts.length !== 1) {
    let offset = 0;
    for (const p of parts) {
      joined.set(p, offset);
      offset += p.length;
    }
  }
  const digest = await crypto.subtle.digest("SHA-256", joined as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** header + payload → the file's bytes. */
export async function writeCompressed(header: CompressedHeader, payload: Uint8Array): Promise<Uint8Array> {
  const json = new TextEncoder().encode(JSON.stringify({ ...header, payloadBytes: payload.length }));
  const body = new Uint8Array(PREFIX_BYTES + json.length + payload.length);
  body.set(new TextEncoder().encode(MAGIC), 0);
  body[MAGIC.length] = FORMAT_VERSION;
  new DataView(body.buffer).setUint32(MAGIC.length + 1, json.length, true);
  body.set(json, PREFIX_BYTES);
  body.set(payload, PREFIX_BYTES + json.length);
  const checksum = await crypto.subtle.digest("SHA-256", body);
  const file = new Uint8Array(body.length + CHECKSUM_BYTES);
  file.set(body);
  file.set(new Uint8Array(checksum), body.length);
  return file;
}

/** The header alone (for `rlhf decompress` to pick the backend and checkpoint before reading everything). */
export function readHeader(file: Uint8Array, source = "the compressed file"): CompressedHeader {
  const magic = new TextDecoder().decode(file.subarray(0, MAGIC.length));
  if (file.length < PREFIX_BYTES || magic !== MAGIC) {
    throw new CompressedFileError(
      `${source} is not a file written by rlhf compress (it does not start with "${MAGIC}")`,
    );
  }
  const version = file[MAGIC.length]!;
  if (version !== FORMAT_VERSION) {
    throw new CompressedFileError(
      `${source} has format version ${version}; this workbench reads version ${FORMAT_VERSION}`,
    );
  }
  const headerLength = new DataView(file.buffer, file.byteOffset).getUint32(MAGIC.length + 1, true);
  if (file.length < PREFIX_BYTES + headerLength) {
    throw new CompressedFileError(
      `${source} is truncated: its header alone should be ${headerLength} bytes; the file has ${file.length} in all`,
    );
  }
  let header: CompressedHeader;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(
        file.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength),
      ),
    );
  } catch {
    throw new CompressedFileError(`${source} is corrupted: its header is not valid JSON`);
  }
  return header;
}

/** Header and payload of a complete, intact file, or an error that says what is wrong with it. */
export async function readCompressed(
  file: Uint8Array,
  source = "the compressed file",
): Promise<{ header: CompressedHeader; payload: Uint8Array }> {
  const header = readHeader(file, source);
  const headerLength = new DataView(file.buffer, file.byteOffset).getUint32(MAGIC.length + 1, true);
  const payloadStart = PREFIX_BYTES + headerLength;
  const expected = payloadStart + header.payloadBytes + CHECKSUM_BYTES;
  if (file.length < expected) {
    throw new CompressedFileError(
      `${source} is truncated: ${file.length} bytes of the ${expected} its header announces`,
    );
  }
  if (file.length > expected) {
    throw new CompressedFileError(
      `${source} has ${file.length - expected} bytes after its end (${expected} bytes announced): not one intact file`,
    );
  }
  const body = file.subarray(0, payloadStart + header.payloadBytes);
  const checksum = new Uint8Array(await crypto.subtle.digest("SHA-256", body.slice()));
  const stored = file.subarray(body.length);
  if (!checksum.every((b, i) => b === stored[i])) {
    throw new CompressedFileError(`${source} is corrupted: its SHA-256 checksum does not match its contents`);
  }
  return { header, payload: file.subarray(payloadStart, payloadStart + header.payloadBytes) };
}
