/**
 * The checkpoint as a lossless compressor: the arithmetic coder against the code length it should reach,
 * the quantiser, bytes ↔ tokens on any bytes, and compress → decompress with a real GPT (round-trips of
 * random bytes, unicode, empty input and inputs longer than the context; corrupted, truncated and
 * mismatched files refused; wasm and cpu files each decoded only on their own numerics).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { checkpoints, runs } from "@rlhf/core/schema";
import { createTestDatabase } from "@rlhf/core/testing";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { type BackendInfo, initBackend } from "../src/backend";
import { saveCheckpoint } from "../src/checkpoint";
import { compressCommand, decompressCommand } from "../src/cli/compress";
import {
  ArithmeticDecoder,
  ArithmeticEncoder,
  bytesToTokens,
  compress,
  decompress,
  FREQUENCY_TOTAL,
  quantiseDistribution,
  readHeader,
  tokenByteTable,
  tokensToBytes,
} from "../src/compress";
import { numericsOfBackend } from "../src/compress/backend-numerics";
import { compressionFact } from "../src/compress/run-facts";
import { GPT, gptConfig, mulberry32 } from "../src/model";
import { DEFAULT_SPECIAL_TOKENS, type Tokenizer, trainBpe } from "../src/tokenizer";
import { runCli } from "./fixtures/processes";

function randomBytes(n: number, seed: number): Uint8Array {
  const random = mulberry32(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
}

function randomDistribution(size: number, random: () => number, peak: number): Float32Array {
  const weights = Array.from({ length: size }, () => random() ** peak);
  const sum = weights.reduce((a, b) => a + b, 0);
  return Float32Array.from(weights, (w) => w / sum);
}

describe("arithmetic coder", () => {
  it("decodes what it encoded, in about −Σ log₂ q bits", () => {
    const random = mulberry32(7);
    const tables: Uint32Array[] = [];
    const symbols: number[] = [];
    let idealBits = 0;
    const encoder = new ArithmeticEncoder();
    for (let i = 0; i < 5000; i++) {
      const size = 2 + Math.floor(random() * 300);
      const table = quantiseDistribution(randomDistribution(size, random, 1 + 8 * random()), 0, size);
      // Draw from the quantised distribution, so the ideal length is its entropy.
      const u = Math.floor(random() * FREQUENCY_TOTAL);
      let s = 0;
      while (table[s + 1]! <= u) s++;
      encoder.encode(table, s);
      idealBits -= Math.log2((table[s + 1]! - table[s]!) / FREQUENCY_TOTAL);
      tables.push(table);
      symbols.push(s);
    }
    const bytes = encoder.finish();
    expect(bytes.length * 8).toBeGreaterThanOrEqual(Math.floor(idealBits));
    expect(bytes.length * 8).toBeLessThan(idealBits + 40);
    const decoder = new ArithmeticDecoder(bytes);
    expect(tables.map((t) => decoder.decode(t))).toEqual(symbols);
  });

  it("codes a symbol of the smallest frequency among giants, and refuses one of none", () => {
    const table = Uint32Array.from([0, 1, FREQUENCY_TOTAL - 1, FREQUENCY_TOTAL]);
    const encoder = new ArithmeticEncoder();
    const symbols = [0, 1, 0, 0, 1, 0, 1, 1, 1, 0];
    for (const s of symbols) encoder.encode(table, s);
    const decoder = new ArithmeticDecoder(encoder.finish());
    expect(symbols.map(() => decoder.decode(table))).toEqual(symbols);
    expect(() => new ArithmeticEncoder().encode(table, 3)).toThrow(/symbol 3 has no probability/);
  });
});

describe("quantiseDistribution", () => {
  it("gives every token at least 1, sums to the total and follows the probabilities", () => {
    const random = mulberry32(3);
    for (const size of [2, 17, 512, 50257]) {
      const p = randomDistribution(size, random, 6);
      const table = quantiseDistribution(p, 0, size);
      expect(table[0]).toBe(0);
      expect(table[size]).toBe(FREQUENCY_TOTAL);
      let worst = 0;
      for (let i = 0; i < size; i++) {
        const f = table[i + 1]! - table[i]!;
        expect(f).toBeGreaterThanOrEqual(1);
        worst = Math.max(worst, Math.abs(f / FREQUENCY_TOTAL - p[i]!));
      }
      // Each token is off by at most the floor's unit plus the +1, except the one absorbing the remainder.
      expect(worst).toBeLessThan((size + 2) / FREQUENCY_TOTAL);
    }
    expect(() => quantiseDistribution(Float32Array.from([0.5, Number.NaN]), 0, 2)).toThrow(
      /not a distribution/,
    );
  });
});

let tokenizer: Tokenizer;

describe("bytes ↔ tokens", () => {
  beforeAll(() => {
    tokenizer = trainBpe(
      ["the park was lovely and the dogs were happy", "a cold rainy day in the park", "café naïve ☕"],
      { vocabSize: 320, specialTokens: DEFAULT_SPECIAL_TOKENS },
    );
  });

  it("round-trips any bytes: random, invalid UTF-8, lone surrogates' bytes, special-token text, a BOM", () => {
    const table = tokenByteTable(tokenizer);
    const utf8 = (s: string) => new TextEncoder().encode(s);
    const cases = [
      new Uint8Array(0),
      randomBytes(3000, 1),
      utf8("the park was lovely <|endoftext|> <|user|> café ☕ 😀"),
      Uint8Array.from([
        0xef, 0xbb, 0xbf, 0x61, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0xe2, 0x82,
      ]),
      Uint8Array.from([0xc0, 0xaf, 0xe0, 0x80, 0xaf, 0xff, 0xfe, 0x00, 0x0a, 0x0d]),
    ];
    for (const bytes of cases) {
      const ids = bytesToTokens(tokenizer, bytes, table);
      expect(tokensToBytes(ids, table)).toEqual(bytes);
    }
    // Special-token strings stay text: no special id appears.
    const ids = bytesToTokens(tokenizer, utf8("<|endoftext|>"), table);
    expect(ids.some((id) => tokenizer.isSpecial(id))).toBe(false);
    // Text goes through the BPE (fewer tokens than bytes).
    expect(bytesToTokens(tokenizer, utf8("the park the park"), table).length).toBeLessThan(12);
  });
});

describe("compress → decompress with a GPT", () => {
  let model: GPT;
  let other: GPT;
  let wasm: BackendInfo;
  const text = new TextEncoder().encode(
    "the park was lovely and the dogs were happy. a cold rainy day in the park. café ☕ — naïve?\n".repeat(4),
  );

  beforeAll(async () => {
    wasm = await initBackend("wasm");
    const config = gptConfig("tiny", {
      vocabSize: tokenizer.vocabSize,
      nPositions: 32,
      nEmbd: 16,
      nLayer: 2,
      nHead: 2,
      initializerRange: 0.3, // peaked distributions, so tokens get very different code lengths
    });
    model = new GPT(config, { seed: 1 });
    other = new GPT(config, { seed: 2 });
  });

  it("reproduces the input byte for byte: text longer than the context, random bytes, empty", async () => {
    const numerics = numericsOfBackend(wasm);
    // Warm-up: the model keeps its transposed LM head from the first forward pass on.
    await compress(model, tokenizer, text.subarray(0, 10), { checkpointRef: "test", numerics });
    for (const input of [text, randomBytes(200, 9), new Uint8Array(0)]) {
      const before = tf.memory().numTensors;
      const result = await compress(model, tokenizer, input, { checkpointRef: "test", numerics, lanes: 3 });
      expect(tf.memory().numTensors).toBe(before);
      const header = readHeader(result.file);
      expect(header.bytes).toBe(input.length);
      if (input === text) expect(header.tokens).toBeGreaterThan(3 * 32 + 1); // more chunks than lanes
      // The payload is the quantised code length plus a few bits; quantising costs little.
      expect(header.payloadBytes * 8).toBeLessThan(result.quantisedBits + 16);
      expect(result.quantisedBits).toBeLessThan(result.modelBits * 1.01 + 8);
      const progress: number[] = [];
      const output = await decompress(model, tokenizer, result.file, {
        checkpointRef: "test",
        numerics,
        onProgress: (done) => progress.push(done),
      });
      expect(output).toEqual(input);
      expect(progress.at(-1)).toBe(input.length);
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it("refuses a corrupted, truncated or foreign file, and another model, tokenizer or numerics", async () => {
    const numerics = numericsOfBackend(wasm);
    const { file } = await compress(model, tokenizer, text, { checkpointRef: "run:a", numerics });
    const options = { checkpointRef: "run:b", numerics, source: "x.rlz" };
    const flipped = file.slice();
    flipped[flipped.length - 40]! ^= 0x10;
    await expect(decompress(model, tokenizer, flipped, options)).rejects.toThrow(
      /^x\.rlz is corrupted: its SHA-256 checksum does not match/,
    );
    await expect(decompress(model, tokenizer, file.subarray(0, file.length - 7), options)).rejects.toThrow(
      /^x\.rlz is truncated: \d+ bytes of the \d+ its header announces/,
    );
    await expect(decompress(model, tokenizer, file.subarray(0, 20), options)).rejects.toThrow(/truncated/);
    await expect(decompress(model, tokenizer, text, options)).rejects.toThrow(
      /not a file written by rlhf compress/,
    );
    await expect(decompress(other, tokenizer, file, options)).rejects.toThrow(
      /was compressed with checkpoint run:a \(model [0-9a-f]{12}\); run:b is another model/,
    );
    const otherTokenizer = trainBpe(["something else entirely"], {
      vocabSize: 280,
      specialTokens: DEFAULT_SPECIAL_TOKENS,
    });
    await expect(decompress(model, otherTokenizer, file, options)).rejects.toThrow(/another tokenizer/);
    await expect(
      decompress(model, tokenizer, file, { ...options, numerics: { backend: "cpu", id: "cpu · elsewhere" } }),
    ).rejects.toThrow(/whose last bits can differ.*--backend wasm/);
  });

  it("wasm and cpu: each decodes its own files; a file from the other backend is refused", async () => {
    const fromWasm = await compress(model, tokenizer, text, {
      checkpointRef: "t",
      numerics: numericsOfBackend(wasm),
    });
    const cpu = await initBackend("cpu");
    try {
      const cpuNumerics = numericsOfBackend(cpu);
      await expect(
        decompress(model, tokenizer, fromWasm.file, { checkpointRef: "t", numerics: cpuNumerics }),
      ).rejects.toThrow(/compressed on "wasm:.*"; this process computes on "cpu:/);
      const fromCpu = await compress(model, tokenizer, text, { checkpointRef: "t", numerics: cpuNumerics });
      expect(
        await decompress(model, tokenizer, fromCpu.file, { checkpointRef: "t", numerics: cpuNumerics }),
      ).toEqual(text);
    } finally {
      await initBackend("wasm");
    }
    expect(
      await decompress(model, tokenizer, fromWasm.file, {
        checkpointRef: "t",
        numerics: numericsOfBackend(wasm),
      }),
    ).toEqual(text);
  });

  it("the run fact: held-out texts, a text per line up to maxBytes, beside gzip -9 on the same bytes", async () => {
    const texts = ["the park was lovely.", "a cold rainy day.", "the dogs were happy.", "café ☕"];
    const fact = await compressionFact({
      model,
      tokenizer,
      heldOutTexts: texts,
      backend: wasm,
      contextTokens: 16,
      checkpointRef: "run:x",
      maxBytes: 45,
    });
    const taken = new TextEncoder().encode(texts.slice(0, 2).join("\n")); // 20 + 1 + 17 bytes; the third would pass 45
    expect(fact?.bytes).toBe(taken.length);
    expect(fact?.gzipBitsPerByte).toBe((gzipSync(taken, { level: 9 }).length * 8) / taken.length);
    const { file } = await compress(model, tokenizer, taken, {
      checkpointRef: "run:x",
      numerics: numericsOfBackend(wasm),
      contextTokens: 16,
    });
    expect(fact?.bitsPerByte).toBe((file.length * 8) / taken.length);
    expect(
      await compressionFact({
        model,
        tokenizer,
        heldOutTexts: [],
        backend: wasm,
        contextTokens: 16,
        checkpointRef: "x",
      }),
    ).toBeUndefined();
  });

  it("rlhf compress / decompress: files in and out, the checkpoint found from the header, nothing written on a bad file", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "compress-cli-"));
    try {
      await saveCheckpoint(path.join(dir, "checkpoint"), model, tokenizer);
      const original = Buffer.concat([Buffer.from(text), Buffer.from(randomBytes(100, 4))]);
      writeFileSync(path.join(dir, "in.bin"), original);
      const [input, packed, restored] = ["in.bin", "in.rlz", "restored.bin"].map((f) => path.join(dir, f));
      const stdout = process.stdout.write;
      process.stdout.write = () => true; // the commands' one-line reports
      try {
        await compressCommand(input!, packed!, {
          checkpoint: path.join(dir, "checkpoint"),
          backend: "wasm",
          lanes: "4",
        });
        await decompressCommand(packed!, restored!, {});
        expect(readFileSync(restored!)).toEqual(original);
        const damaged = readFileSync(packed!);
        damaged[damaged.length - 1]! ^= 1;
        writeFileSync(packed!, damaged);
        await expect(decompressCommand(packed!, `${restored}.2`, {})).rejects.toThrow(/checksum/);
        expect(existsSync(`${restored}.2`)).toBe(false);
        await expect(
          compressCommand(path.join(dir, "missing.txt"), packed!, {
            checkpoint: path.join(dir, "checkpoint"),
            backend: "wasm",
            lanes: "4",
          }),
        ).rejects.toThrow(/missing\.txt: no such file/);
      } finally {
        process.stdout.write = stdout;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rlhf compress run:<name> in its own process: chunks of the run's blockSize; decompress finds the run from the header", async () => {
    const t = await createTestDatabase("rlhf_compress_cli");
    const dir = mkdtempSync(path.join(tmpdir(), "compress-run-"));
    try {
      await saveCheckpoint(path.join(dir, "checkpoint"), model, tokenizer);
      const [run] = await t.db
        .insert(runs)
        .values({ name: "tiny-pre", kind: "pretrain", status: "succeeded", config: { blockSize: 16 } })
        .returning();
      await t.db
        .insert(checkpoints)
        .values({ runId: run!.id, step: 10, path: path.join(dir, "checkpoint"), isFinal: true });
      const [input, packed, restored] = ["in.txt", "in.rlz", "out.txt"].map((f) => path.join(dir, f));
      writeFileSync(input!, text);
      const compressed = await runCli(t.url, [
        "compress",
        "--checkpoint",
        "run:tiny-pre",
        "--json",
        input!,
        packed!,
      ]);
      expect(compressed.code, compressed.stderr).toBe(0);
      const figures = JSON.parse(compressed.stdout) as {
        contextTokens: number;
        bytes: number;
        backend: string;
      };
      expect(figures).toMatchObject({ contextTokens: 16, bytes: text.length });
      expect(readHeader(readFileSync(packed!))).toMatchObject({
        contextTokens: 16,
        checkpoint: { ref: "run:tiny-pre" },
      });
      const decompressed = await runCli(t.url, ["decompress", packed!, restored!]);
      expect(decompressed.code, decompressed.stderr).toBe(0);
      expect(decompressed.stdout).toMatch(/bytes restored \(SHA-256 checked\)/);
      expect(new Uint8Array(readFileSync(restored!))).toEqual(text);
      const refused = await runCli(t.url, ["decompress", "--backend", "cpu", packed!, `${restored}.2`]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/this process computes on "cpu:.*rlhf decompress --backend wasm/);
      expect(existsSync(`${restored}.2`)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await t.drop();
    }
  });
});
