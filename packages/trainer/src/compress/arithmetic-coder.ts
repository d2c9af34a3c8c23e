/**
 * A binary arithmetic coder over integer frequency tables (Witten, Neal & Cleary 1987, in the form of
 * Nayuki's "Reference arithmetic coding"): 31-bit low/high state, E1/E2 shifts and E3 underflow bits.
 *
 * Every step is integer arithmetic on JS numbers kept below 2^53 (a range below 2^31 times a frequency total
 * of at most 2^21), so encoder and decoder agree exactly on any JS engine. No Node imports: the playground
 * runs it in the browser.
 */

const STATE_BITS = 31;
const FULL_RANGE = 2 ** STATE_BITS;
const HALF_RANGE = FULL_RANGE / 2;
const QUARTER_RANGE = HALF_RANGE / 2;
const STATE_MASK = FULL_RANGE - 1;

/** The largest frequency total the coder accepts: range × total must stay exact in a double. */
export const MAX_FREQUENCY_TOTAL = 2 ** 21;

/**
 * Cumulative frequencies of one distribution: symbol s owns [cumulative[s], cumulative[s + 1]), and
 * cumulative[length - 1] is the total. Every symbol that can occur needs a non-empty interval.
 */
export type CumulativeFrequencies = Uint32Array;

/** ⌊a × b / c⌋ for non-negative integers with a × b < 2^53, exact (the float quotient can round up). */
function mulDivFloor(a: number, b: number, c: number): number {
  return floorDiv(a * b, c);
}

/** ⌊n / c⌋ for non-negative integers below 2^53, exact. */
function floorDiv(n: number, c: number): number {
  let q = Math.floor(n / c);
  if (q * c > n) q -= 1;
  else if ((q + 1) * c <= n) q += 1;
  return q;
}

function checkTotal(cumulative: CumulativeFrequencies): number {
  const total = cumulative[cumulative.length - 1]!;
  if (!(total > 0 && total <= MAX_FREQUENCY_TOTAL)) {
    throw new RangeError(`frequency total ${total} is outside (0, ${MAX_FREQUENCY_TOTAL}]`);
  }
  return total;
}

/** Bits out, most significant first, into a growing byte buffer. */
class BitWriter {
  private bytes = new Uint8Array(1024);
  private length = 0;
  private current = 0;
  private filled = 0;

  write(bit: number): void {
    this.current = (this.current << 1) | bit;
    this.filled += 1;
    if (this.filled === 8) {
      if (this.length === this.bytes.length) {
        const grown = new Uint8Array(this.bytes.length * 2);
        grown.set(this.bytes);
        this.bytes = grown;
      }
      this.bytes[this.length++] = this.current;
      this.current = 0;
      this.filled = 0;
    }
  }

  /** The bytes written, the last one padded with zero bits. */
  finish(): Uint8Array {
    while (this.filled !== 0) this.write(0);
    return this.bytes.slice(0, this.length);
  }
}

/** Encodes symbols one distribution at a time; `finish()` returns the bytes. */
export class ArithmeticEncoder {
  private low = 0;
  private high = STATE_MASK;
  private pendingUnderflow = 0;
  private readonly out = new BitWriter();

  encode(cumulative: CumulativeFrequencies, symbol: number): void {
    const total = checkTotal(cumulative);
    const symLow = cumulative[symbol];
    const symHigh = cumulative[symbol + 1];
    if (symLow === undefined || symHigh === undefined || symHigh <= symLow) {
      throw new RangeError(`symbol ${symbol} has no probability in this distribution`);
    }
    const range = this.high - this.low + 1;
    const newLow = this.low + mulDivFloor(symLow, range, total);
    const newHigh = this.low + mulDivFloor(symHigh, range, total) - 1;
    this.low = newLow;
    this.high = newHigh;
    // While the top bits of low and high agree, that bit is decided: send it.
    while (((this.low ^ this.high) & HALF_RANGE) === 0) {
      this.emit(this.low >>> (STATE_BITS - 1));
      this.low = (this.low << 1) & STATE_MASK;
      this.high = ((this.high << 1) & STATE_MASK) | 1;
    }
    // low = 01…, high = 10…: the range straddles the middle and shrinks; defer the bit (underflow).
    while ((this.low & ~this.high & QUARTER_RANGE) !== 0) {
      this.pendingUnderflow += 1;
      this.low = (this.low << 1) ^ HALF_RANGE;
      this.high = ((this.high ^ HALF_RANGE) << 1) | HALF_RANGE | 1;
    }
  }

  private emit(bit: number): void {
    this.out.write(bit);
    for (; this.pendingUnderflow > 0; this.pendingUnderflow--) this.out.write(bit ^ 1);
  }

  /** Ends the stream: one more bit pins a value inside the final range (the decoder reads zeros past the end). */
  finish(): Uint8Array {
    this.emit(1);
    return this.out.finish();
  }
}

/** Decodes what ArithmeticEncoder wrote, given the same distributions in the same order. */
export class ArithmeticDecoder {
  private low = 0;
  private high = STATE_MASK;
  private code = 0;
  private bitPosition = 0;

  constructor(private readonly input: Uint8Array) {
    for (let i = 0; i < STATE_BITS; i++) this.code = (this.code << 1) | this.readBit();
  }

  private readBit(): number {
    const byte = this.bitPosition >>> 3;
    const bit = byte < this.input.length ? (this.input[byte]! >>> (7 - (this.bitPosition & 7))) & 1 : 0;
    this.bitPosition += 1;
    return bit;
  }

  decode(cumulative: CumulativeFrequencies): number {
    const total = checkTotal(cumulative);
    const range = this.high - this.low + 1;
    const offset = this.code - this.low;
    const value = floorDiv((offset + 1) * total - 1, range);
    // The symbol whose interval holds value: binary search for the last cumulative[s] <= value.
    let lo = 0;
    let hi = cumulative.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! > value) hi = mid;
      else lo = mid;
    }
    const symbol = lo;
    const symLow = cumulative[symbol]!;
    const symHigh = cumulative[symbol + 1]!;
    const low = this.low;
    this.low = low + mulDivFloor(symLow, range, total);
    this.high = low + mulDivFloor(symHigh, range, total) - 1;
    while (((this.low ^ this.high) & HALF_RANGE) === 0) {
      this.low = (this.low << 1) & STATE_MASK;
      this.high = ((this.high << 1) & STATE_MASK) | 1;
      this.code = ((this.code << 1) & STATE_MASK) | this.readBit();
    }
    while ((this.low & ~this.high & QUARTER_RANGE) !== 0) {
      this.low = (this.low << 1) ^ HALF_RANGE;
      this.high = ((this.high ^ HALF_RANGE) << 1) | HALF_RANGE | 1;
      this.code = (this.code & HALF_RANGE) | ((this.code << 1) & (STATE_MASK >>> 1)) | this.readBit();
    }
    return symbol;
  }

  /** Bits read so far beyond the input's end (a decoder that keeps reading zeros ran off a truncated stream). */
  get overrun(): number {
    return Math.max(0, this.bitPosition - this.input.length * 8);
  }
}
