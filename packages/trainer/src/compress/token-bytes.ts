/**
 * Any byte sequence ↔ token ids of a byte-level BPE, exactly. Valid UTF-8 runs go through the tokenizer
 * (special-token strings as ordinary text); a byte that is not part of valid UTF-8 (which no JS string can
 * carry) becomes the token of that single byte, which every byte-level vocabulary has. Decoding joins the
 * tokens' bytes, so it needs no UTF-8 at all. Each run is checked to decode to its own bytes and falls back
 * to single-byte tokens if it does not, so what a tokenizer normalises can never change the output.
 */

import type { Tokenizer } from "../tokenizer/bpe";
import { BYTE_TO_UNICODE, symbolsToBytes, utf8Bytes } from "../tokenizer/byteLevel";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Length of the valid UTF-8 sequence starting at `i` (1-4), or 0 if the byte there starts none. */
function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return 1;
  const cont = (j: number, lo = 0x80, hi = 0xbf) => j < bytes.length && bytes[j]! >= lo && bytes[j]! <= hi;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    // E0 needs A0..BF (no overlong forms); ED needs 80..9F (no surrogates).
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf;
    return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

/** The bytes of every token id (undefined for ids the tokenizer does not use). */
export function tokenByteTable(tokenizer: Tokenizer): (Uint8Array | undefined)[] {
  const table: (Uint8Array | undefined)[] = new Array(tokenizer.vocabSize);
  const added = new Map(tokenizer.addedTokens.map((t) => [t.id, t.content]));
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    const content = added.get(id);
    if (content !== undefined) table[id] = utf8Bytes(content);
    else {
      const token = tokenizer.idToToken(id);
      table[id] = token === undefined ? undefined : symbolsToBytes(token);
    }
  }
  return table;
}

function equalBytes(a: Uint8Array, b: Uint8Array, bOffset: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[bOffset + i]) return false;
  return true;
}

/** Token ids whose bytes, joined, are exactly `bytes`. */
export function bytesToTokens(
  tokenizer: Tokenizer,
  bytes: Uint8Array,
  table = tokenByteTable(tokenizer),
): number[] {
  const byteIds = Array.from({ length: 256 }, (_, b) => tokenizer.tokenToId(BYTE_TO_UNICODE[b]!)!);
  const ids: number[] = [];
  const pushRun = (start: number, end: number) => {
    if (end <= start) return;
    const run = bytes.subarray(start, end);
    const encoded = tokenizer.encode(strictUtf8.decode(run), { allowSpecial: false });
    let offset = 0;
    for (const id of encoded) {
      const piece = table[id];
      if (!piece || offset + piece.length > run.length || !equalBytes(piece, run, offset)) {
        offset = -1;
        break;
      }
      offset += piece.length;
    }
    if (offset === run.length) for (const id of encoded) ids.push(id);
    else for (const b of run) ids.push(byteIds[b]!);
  };
  let runStart = 0;
  let i = 0;
  while (i < bytes.length) {
    const length = utf8SequenceLength(bytes, i);
    if (length > 0) {
      i += length;
      continue;
    }
    pushRun(runStart, i);
    ids.push(byteIds[bytes[i]!]!);
    i += 1;
    runStart = i;
  }
  pushRun(runStart, bytes.length);
  return ids;
}

/** Bytes of token ids, joined. */
export function tokensToBytes(ids: ArrayLike<number>, table: (Uint8Array | undefined)[]): Uint8Array {
  let length = 0;
  for (let i = 0; i < ids.length; i++) {
    const piece = table[ids[i]!];
    if (!piece) throw new RangeError(`token id ${ids[i]} has no bytes in this tokenizer`);
    length += piece.length;
  }
  const out = new Uint8Array(length);
  let offset = 0;
  for (let i = 0; i < ids.length; i++) {
    const piece = table[ids[i]!]!;
    out.set(piece, offset);
    offset += piece.length;
  }
  return out;
}
