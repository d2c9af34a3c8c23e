/**
 * GPT-2's byte-level layer: the pre-tokenizer regex and the byte ↔ printable-character table that lets a
 * BPE vocabulary of strings cover every byte (Radford et al. 2019, openai/gpt-2 `encoder.py`).
 */

/**
 * Unicode White_Space, which is what `\s` means in Python's `regex` module (GPT-2's encoder.py) and in
 * Oniguruma (the tokenizers library). JS `\s` differs: it omits U+0085 and adds U+FEFF, so a byte-order
 * mark would pre-tokenize as whitespace here and as punctuation in GPT-2.
 */
const WHITE_SPACE = String.raw`\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000`;

/**
 * GPT-2's pre-tokenizer from `encoder.py`:
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * with `\s` spelled out as WHITE_SPACE. Contractions first so "don't" splits as "don" + "'t"; a single
 * leading space stays attached to the following word, which is why vocabularies are full of "Ġthe"-style
 * tokens; `\s+(?!\S)` leaves the last space of a run for the next word.
 */
export const GPT2_PRETOKENIZE_PATTERN =
  String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^${WHITE_SPACE}\p{L}\p{N}]+|` +
  `[${WHITE_SPACE}]+(?![^${WHITE_SPACE}])|[${WHITE_SPACE}]+`;

const gpt2PreTokenizeRegex = new RegExp(GPT2_PRETOKENIZE_PATTERN, "gu");

/** Splits text into GPT-2 pre-tokens; their concatenation is always the input. */
export function preTokenize(text: string): string[] {
  return text.match(gpt2PreTokenizeRegex) ?? [];
}

/**
 * GPT-2's `bytes_to_unicode`: printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100.. in
 * byte order, so every byte becomes a visible, non-whitespace character (space → "Ġ", newline → "Ċ").
 */
function buildBytesToUnicode(): string[] {
  const table: string[] = new Array(256);
  const isPrintable = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = String.fromCharCode(isPrintable(b) ? b : 256 + next++);
  }
  return table;
}

/** Byte value → its one-character symbol in byte-level vocabularies. */
export const BYTE_TO_UNICODE: readonly string[] = buildBytesToUnicode();

/** Inverse of {@link BYTE_TO_UNICODE}. */
export const UNICODE_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_UNICODE.map((ch, b) => [ch, b]));

/** Raw bytes → byte-level token string (e.g. the bytes of " the" → "Ġthe"). */
export function bytesToSymbols(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += BYTE_TO_UNICODE[b];
  return out;
}

/** Byte-level token string → raw bytes, or undefined if a character is outside the 256-symbol alphabet. */
export function symbolsToBytes(symbols: string): Uint8Array | undefined {
  const out = new Uint8Array(symbols.length);
  for (let i = 0; i < symbols.length; i++) {
    const b = UNICODE_TO_BYTE.get(symbols.charAt(i));
    if (b === undefined) return undefined;
    out[i] = b;
  }
  return out;
}

const utf8Encoder = new TextEncoder();

/**
 * UTF-8 bytes of a string. Lone surrogates (not valid Unicode, so not representable in UTF-8) become
 * U+FFFD, as with every WHATWG encoder; that is the one input for which decode(encode(s)) !== s.
 */
export function utf8Bytes(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}
