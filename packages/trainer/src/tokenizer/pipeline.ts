/**
 * The parts of a byte-level BPE tokenizer.json around the BPE model — normalizer, pre-tokenizer, decoder,
 * post-processor — for the shapes today's models use (GPT-2, GPT-NeoX/Pythia, Llama 3, Qwen2/2.5/3, SmolLM2,
 * StarCoder, DeepSeek, OLMo). Each is checked against what the `tokenizers` library does with it and kept as
 * read, so writing the tokenizer back gives the same file and the same ids. Anything else is refused with
 * the field named: encoding it another way would give different ids than the model was trained on.
 */

import { preTokenize as gpt2PreTokenize } from "./byteLevel";
import { onigurumaToJs } from "./oniguruma";

/** How text becomes pre-tokens, and what to write back into tokenizer.json. */
export interface TokenizerPipeline {
  /** The four objects as read (or GPT-2's), written back unchanged. */
  readonly json: {
    readonly normalizer: unknown;
    readonly pre_tokenizer: unknown;
    readonly post_processor: unknown;
    readonly decoder: unknown;
  };
  /** A pre-token that is itself in the vocabulary is taken whole (Llama 3's `model.ignore_merges`). */
  readonly ignoreMerges: boolean;
  /** Unicode normalization applied before pre-tokenizing, if any. */
  readonly normalize: ((text: string) => string) | undefined;
  /** Text (one segment between added tokens, normalized) → pre-tokens whose concatenation is byte-level encoded. */
  readonly preTokenize: (text: string) => string[];
  /** The token the post-processor puts first (Llama 3's `<|begin_of_text|>`), if any. */
  readonly bosToken: string | undefined;
}

const BYTE_LEVEL = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };

/** GPT-2's: no normalizer, the byte-level pre-tokenizer with its regex. What `trainBpe` produces. */
export const GPT2_PIPELINE: TokenizerPipeline = {
  json: {
    normalizer: null,
    pre_tokenizer: BYTE_LEVEL,
    post_processor: { ...BYTE_LEVEL, trim_offsets: false },
    decoder: BYTE_LEVEL,
  },
  ignoreMerges: false,
  normalize: undefined,
  preTokenize: gpt2PreTokenize,
  bosToken: undefined,
};

/** Thrown with the field's path; hfJson prefixes the file name. */
export class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field} ${message}`);
  }
}

type Split = (text: string) => string[];
type Behavior = "Isolated" | "Removed" | "MergedWithPrevious" | "MergedWithNext" | "Contiguous";
const BEHAVIORS: readonly Behavior[] = [
  "Isolated",
  "Removed",
  "MergedWithPrevious",
  "MergedWithNext",
  "Contiguous",
];

const SENTENCEPIECE =
  "a SentencePiece-style tokenizer (Llama 2, Mistral, Gemma: Metaspace and byte fallback) is not a byte-level BPE; encoding it as one would give different ids";

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  if (value === undefined) return "missing";
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function refuse(field: string, got: unknown, expected: string): never {
  throw new FieldError(field, `is ${show(got)}; expected ${expected}`);
}

/**
 * The `tokenizers` library's split: matches and the text between them, flagged, then grouped by `behavior`.
 * Empty pieces are dropped, as the library drops empty splits.
 */
function splitWith(regex: RegExp, behavior: Behavior, invert: boolean): Split {
  return (text) => {
    const parts: [number, number, boolean][] = [];
    let prev = 0;
    for (const m of text.matchAll(regex)) {
      const start = m.index;
      if (prev !== start) parts.push([prev, start, invert]);
      parts.push([start, start + m[0].length, !invert]);
      prev = start + m[0].length;
    }
    if (prev !== text.length || parts.length === 0) parts.push([prev, text.length, invert]);
    const out: [number, number][] = [];
    let previousMatch = false;
    if (behavior === "MergedWithNext") {
      for (let i = parts.length - 1; i >= 0; i--) {
        const [start, end, isMatch] = parts[i]!;
        const last = out[out.length - 1];
        if (isMatch && !previousMatch && last) last[0] = start;
        else out.push([start, end]);
        previousMatch = isMatch;
      }
      out.reverse();
    } else {
      for (const [start, end, isMatch] of parts) {
        const last = out[out.length - 1];
        if (behavior === "Removed") {
          if (!isMatch) out.push([start, end]);
        } else if (behavior === "MergedWithPrevious" && isMatch && !previousMatch && last) last[1] = end;
        else if (behavior === "Contiguous" && isMatch === previousMatch && last) last[1] = end;
        else out.push([start, end]);
        previousMatch = isMatch;
      }
    }
    return out.filter(([s, e]) => e > s).map(([s, e]) => text.slice(s, e));
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}

function splitPreTokenizer(pre: Record<string, unknown>, field: string): Split {
  const pattern = pre.pattern;
  let source: string;
  if (isObject(pattern) && typeof pattern.Regex === "string") {
    try {
      source = onigurumaToJs(pattern.Regex);
    } catch (error) {
      throw new FieldError(`${field}.pattern.Regex`, `${show(pattern.Regex)}: ${(error as Error).message}`);
    }
  } else if (isObject(pattern) && typeof pattern.String === "string") {
    source = escapeRegExp(pattern.String);
    // The library finds no match for an empty string pattern.
    if (pattern.String === "") source = "(?!)";
  } else {
    return refuse(`${field}.pattern`, pattern, '{"Regex": "..."} or {"String": "..."}');
  }
  const behavior = pre.behavior as Behavior;
  if (!BEHAVIORS.includes(behavior))
    refuse(`${field}.behavior`, pre.behavior, `one of ${BEHAVIORS.join(", ")}`);
  if (typeof pre.invert !== "boolean" && pre.invert !== undefined)
    refuse(`${field}.invert`, pre.invert, "true or false");
  return splitWith(new RegExp(source, "gu"), behavior, pre.invert === true);
}

/** One pre-tokenizer (not a Sequence). `last` says whether it is the last step, where ByteLevel must be. */
function stepOf(pre: unknown, field: string, last: boolean): Split | undefined {
  if (!isObject(pre)) return refuse(field, pre, "a pre-tokenizer object");
  switch (pre.type) {
    case "ByteLevel":
      if (!last)
        throw new FieldError(
          field,
          "is ByteLevel before other pre-tokenizers; expected it last (they would see byte symbols)",
        );
      if (pre.add_prefix_space === true) refuse(`${field}.add_prefix_space`, true, "false");
      return pre.use_regex === false ? undefined : gpt2PreTokenize;
    case "Split":
      return splitPreTokenizer(pre, field);
    case "Digits":
      // The library's Digits splits on `char::is_numeric` (general category N), not on ASCII digits.
      return splitWith(/\p{N}/gu, pre.individual_digits === true ? "Isolated" : "Contiguous", false);
    case "Metaspace":
      return refuse(
        `${field}.type`,
        pre.type,
        `"ByteLevel", "Split", "Digits" or "Sequence": ${SENTENCEPIECE}`,
      );
    default:
      return refuse(
        `${field}.type`,
        pre.type,
        '"ByteLevel", "Split", "Digits" or "Sequence" (the byte-level BPE pre-tokenizers this loads)',
      );
  }
}

function preTokenizerOf(pre: unknown): Split {
  const field = "pre_tokenizer";
  if (!isObject(pre))
    return refuse(
      field,
      pre,
      '{"type": "ByteLevel", ...} or a Sequence ending in ByteLevel (byte-level BPE)',
    );
  let steps: unknown[];
  let prefix: (i: number) => string;
  if (pre.type === "Sequence") {
    if (!Array.isArray(pre.pretokenizers))
      return refuse(`${field}.pretokenizers`, pre.pretokenizers, "an array");
    steps = pre.pretokenizers;
    prefix = (i) => `${field}.pretokenizers[${i}]`;
  } else if (pre.type === "Metaspace") {
    return refuse(field, pre, `{"type": "ByteLevel", ...}: ${SENTENCEPIECE}`);
  } else {
    steps = [pre];
    prefix = () => field;
  }
  const last = steps[steps.length - 1];
  if (!isObject(last) || last.type !== "ByteLevel")
    refuse(field, pre, '{"type": "ByteLevel", ...} or a Sequence ending in ByteLevel (byte-level BPE)');
  const splits = steps
    .map((step, i) => stepOf(step, prefix(i), i === steps.length - 1))
    .filter((s): s is Split => s !== undefined);
  if (splits.length === 1) return splits[0]!;
  return (text) => {
    let pieces = [text];
    for (const split of splits) pieces = pieces.flatMap(split);
    return pieces;
  };
}

function normalizerOf(normalizer: unknown): ((text: string) => string) | undefined {
  const expected = 'null, {"type": "NFC"} or a Sequence of those';
  if (normalizer == null) return undefined;
  if (!isObject(normalizer)) return refuse("normalizer", normalizer, expected);
  if (normalizer.type === "NFC") return (text) => text.normalize("NFC");
  if (normalizer.type === "Sequence" && Array.isArray(normalizer.normalizers)) {
    normalizer.normalizers.forEach((n, i) => {
      if (!isObject(n) || n.type !== "NFC") refuse(`normalizer.normalizers[${i}]`, n, '{"type": "NFC"}');
    });
    return normalizer.normalizers.length > 0 ? (text) => text.normalize("NFC") : undefined;
  }
  return refuse("normalizer", normalizer, expected);
}

function decoderOf(decoder: unknown): void {
  const field = "decoder";
  if (decoder == null) return;
  if (isObject(decoder) && decoder.type === "ByteLevel") return;
  if (isObject(decoder) && decoder.type === "Sequence" && Array.isArray(decoder.decoders)) {
    decoder.decoders.forEach((d, i) => {
      if (!isObject(d) || d.type !== "ByteLevel") {
        const why =
          isObject(d) && ["ByteFallback", "Metaspace", "Fuse", "Strip", "Replace"].includes(d.type as string)
            ? `: ${SENTENCEPIECE}`
            : "";
        refuse(`${field}.decoders[${i}]`, d, `{"type": "ByteLevel", ...}${why}`);
      }
    });
    return;
  }
  refuse(field, decoder, 'null, {"type": "ByteLevel", ...} or a Sequence of ByteLevel');
}

/** The post-processor's shape, and the token its single-sequence template puts first (a BOS), if any. */
function postProcessorOf(post: unknown, field = "post_processor"): string | undefined {
  if (post == null) return undefined;
  const expected = 'null, {"type": "ByteLevel"}, {"type": "TemplateProcessing"} or a Sequence of those';
  if (!isObject(post)) return refuse(field, post, expected);
  if (post.type === "ByteLevel") return undefined;
  if (post.type === "Sequence" && Array.isArray(post.processors)) {
    let bos: string | undefined;
    post.processors.forEach((p, i) => {
      bos ??= postProcessorOf(p, `${field}.processors[${i}]`);
    });
    return bos;
  }
  if (post.type !== "TemplateProcessing") return refuse(field, post, expected);
  for (const key of ["single", "pair"] as const) {
    const template = post[key];
    if (!Array.isArray(template) || template.length === 0)
      return refuse(`${field}.${key}`, template, "an array of SpecialToken / Sequence pieces");
    template.forEach((piece, i) => {
      const ok =
        isObject(piece) &&
        ((isObject(piece.SpecialToken) && typeof piece.SpecialToken.id === "string") ||
          (isObject(piece.Sequence) && (piece.Sequence.id === "A" || piece.Sequence.id === "B")));
      if (!ok)
        refuse(`${field}.${key}[${i}]`, piece, '{"SpecialToken": {"id": ...}} or {"Sequence": {"id": "A"}}');
    });
  }
  const first = (post.single as Record<string, Record<string, unknown>>[])[0]!;
  return typeof first.SpecialToken?.id === "string" ? first.SpecialToken.id : undefined;
}

/** The pipeline of a parsed tokenizer.json; throws FieldError naming the field it cannot load exactly. */
export function pipelineFromJson(json: Record<string, unknown>, ignoreMerges: boolean): TokenizerPipeline {
  const normalize = normalizerOf(json.normalizer);
  const preTokenize = preTokenizerOf(json.pre_tokenizer);
  decoderOf(json.decoder);
  const bosToken = postProcessorOf(json.post_processor);
  return {
    json: {
      normalizer: json.normalizer ?? null,
      pre_tokenizer: json.pre_tokenizer,
      post_processor: json.post_processor ?? null,
      decoder: json.decoder ?? null,
    },
    ignoreMerges,
    normalize,
    preTokenize,
    bosToken,
  };
}
