/**
 * Compressed files and the native kernels (native-kernels.ts): a file records whether the wasm backend ran
 * them and what their addon was built for; a file that differs from the process only there is decoded
 * (rlhf decompress sets the kernels up as the file had them) or refused with what to do; whatever gets
 * through, the original's SHA-256 still refuses wrong bytes. Fresh processes for the CLI: the kernels are
 * registered per process, and RLHF_NATIVE_KERNELS is read there.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { saveCheckpoint } from "../src/checkpoint";
import { compress, decompress, numericsRefusal, readHeader } from "../src/compress";
import { numericsOfBackend } from "../src/compress/backend-numerics";
import { readCompressed, writeCompressed } from "../src/compress/container";
import { GPT, gptConfig } from "../src/model";
import { DEFAULT_SPECIAL_TOKENS, type Tokenizer, trainBpe } from "../src/tokenizer";

const here = path.dirname(fileURLToPath(import.meta.url));
// Whether this machine builds the native kernels (g++ and Node's headers); the tests of native files need them.
const nativeHere = (await initBackend("wasm")).nativeKernels?.active === true;

const device = (width?: number) =>
  `wasm:cpu (wasm, SIMD, 1 thread${width ? `, native matmul ${width}-bit` : ""}):tfjs-4.22.0`;
const STOCK = `${device()} · kernels BatchMatMul+Slice+Identity · node`;
const nativeId = (width: number, build?: string) =>
  `${device(width)} · kernels BatchMatMul+Slice+Identity+native:BatchMatMul+_FusedMatMul+Transpose` +
  `${build ? ` · native build ${build}` : ""} · node`;
const AVX512 = "x86-64 avx512f fma gcc-12.2.0 glibc-2.36 r1";

describe("numericsRefusal: files that differ from the process in the native kernels only", () => {
  const file = (numerics: string, backend = "wasm") => ({ numerics, backend });
  const on = (width: number, build: string) => ({ backend: "wasm", id: nativeId(width, build) });
  const off = (why: string) => ({ backend: "wasm", id: STOCK, nativeKernelsOff: why });

  it("decodes the same numerics; says to turn the kernels off, or on, when only that differs", () => {
    expect(numericsRefusal("x.rlz", file(STOCK), off("RLHF_NATIVE_KERNELS=0"))).toBeUndefined();
    expect(numericsRefusal("x.rlz", file(nativeId(512, AVX512)), on(512, AVX512))).toBeUndefined();
    expect(numericsRefusal("x.rlz", file(STOCK), on(512, AVX512))).toMatch(
      /^x\.rlz was compressed with the wasm backend's own kernels \(native kernels off\); this process runs the native kernels \(built for "x86-64 avx512f fma gcc-12\.2\.0 glibc-2\.36 r1"\).*Decompress it with the native kernels off: RLHF_NATIVE_KERNELS=0/,
    );
    expect(numericsRefusal("x.rlz", file(nativeId(512, AVX512)), off("RLHF_NATIVE_KERNELS=0"))).toMatch(
      /compressed with the native kernels \(built for "x86-64 avx512f fma gcc-12\.2\.0 glibc-2\.36 r1"\); this process has them off \(RLHF_NATIVE_KERNELS=0\).*Decompress it with RLHF_NATIVE_KERNELS unset, on a machine whose native kernels are built for "x86-64 avx512f/,
    );
    expect(
      numericsRefusal("x.rlz", file(nativeId(512, AVX512)), off("g++ could not build the native kernels")),
    ).toMatch(
      /has them off \(g\+\+ could not build the native kernels\).*Decompress it where they build \(g\+\+/,
    );
  });

  it("refuses another build: vector width, FMA or compiler, naming both builds", () => {
    const avx2 = "x86-64 avx2 fma gcc-12.2.0 glibc-2.36 r1";
    expect(numericsRefusal("x.rlz", file(nativeId(512, AVX512)), on(256, avx2))).toMatch(
      /compressed with the native kernels built for "x86-64 avx512f fma gcc-12\.2\.0 glibc-2\.36 r1"; this machine's are built for "x86-64 avx2 fma gcc-12\.2\.0 glibc-2\.36 r1" \(256-bit vectors\).*Decompress it on a machine whose native kernels are built for "x86-64 avx512f/,
    );
    for (const other of [
      "x86-64 avx512f no-fma gcc-12.2.0 glibc-2.36 r1",
      "x86-64 avx512f fma gcc-13.1.0 glibc-2.36 r1",
    ]) {
      expect(numericsRefusal("x.rlz", file(nativeId(512, AVX512)), on(512, other))).toMatch(
        /this machine's are built for/,
      );
    }
  });

  it("a file from before builds were recorded: decoded when everything else is equal, else refused", () => {
    expect(numericsRefusal("x.rlz", file(nativeId(512)), on(512, AVX512))).toBeUndefined();
    expect(numericsRefusal("x.rlz", file(nativeId(256)), on(512, AVX512))).toMatch(
      /compressed with the native kernels 256-bit vectors, before builds were recorded; .*Decompress it on the machine that compressed it/,
    );
  });

  it("another backend is the general refusal, naming the file's backend", () => {
    const cpu = "cpu:cpu (js):tfjs-4.22.0 · kernels stock · node";
    expect(numericsRefusal("x.rlz", file(cpu, "cpu"), on(512, AVX512))).toMatch(
      /compressed on "cpu:.*"; this process computes on "wasm:.*rlhf decompress --backend cpu/,
    );
  });
});

let tokenizer: Tokenizer;
let model: GPT;
const text = new TextEncoder().encode(
  "the park was lovely and the dogs were happy. a cold rainy day in the park. café ☕ — naïve?\n".repeat(3),
);

beforeAll(() => {
  tokenizer = trainBpe(["the park was lovely and the dogs were happy", "a cold rainy day in the park"], {
    vocabSize: 300,
    specialTokens: DEFAULT_SPECIAL_TOKENS,
  });
  model = new GPT(
    gptConfig("tiny", {
      vocabSize: tokenizer.vocabSize,
      nPositions: 32,
      nEmbd: 16,
      nLayer: 2,
      nHead: 2,
      initializerRange: 0.3,
    }),
    { seed: 1 },
  );
});

describe("native and stock kernels in one process (the library)", () => {
  it.runIf(nativeHere)(
    "each decodes its own file and refuses the other's, saying which way to switch",
    async () => {
      try {
        const nativeInfo = await initBackend("wasm", { nativeKernels: true });
        const nativeNumerics = numericsOfBackend(nativeInfo);
        expect(nativeNumerics.id).toMatch(
          / · native build (x86-64|aarch64) \S+ (fma|no-fma) .* r\d+ · node$/,
        );
        const fromNative = await compress(model, tokenizer, text, {
          checkpointRef: "t",
          numerics: nativeNumerics,
        });
        const stockNumerics = numericsOfBackend(await initBackend("wasm", { nativeKernels: false }));
        expect(stockNumerics).toMatchObject({ nativeKernelsOff: "turned off by the caller" });
        expect(stockNumerics.id).not.toMatch(/native/);
        const fromStock = await compress(model, tokenizer, text, {
          checkpointRef: "t",
          numerics: stockNumerics,
        });
        await expect(
          decompress(model, tokenizer, fromNative.file, { checkpointRef: "t", numerics: stockNumerics }),
        ).rejects.toThrow(/this process has them off \(turned off by the caller\).*nativeKernels: true/);
        expect(
          await decompress(model, tokenizer, fromStock.file, { checkpointRef: "t", numerics: stockNumerics }),
        ).toEqual(text);
        expect(numericsOfBackend(await initBackend("wasm", { nativeKernels: true })).id).toBe(
          nativeNumerics.id,
        );
        await expect(
          decompress(model, tokenizer, fromStock.file, { checkpointRef: "t", numerics: nativeNumerics }),
        ).rejects.toThrow(
          /own kernels \(native kernels off\); this process runs the native kernels.*RLHF_NATIVE_KERNELS=0/,
        );
        expect(
          await decompress(model, tokenizer, fromNative.file, {
            checkpointRef: "t",
            numerics: nativeNumerics,
          }),
        ).toEqual(text);
      } finally {
        await initBackend("wasm", { nativeKernels: true });
      }
    },
  );

  it("the original's SHA-256 refuses wrong bytes from a file that passes every other check", async () => {
    const numerics = numericsOfBackend(await initBackend("wasm"));
    const { file } = await compress(model, tokenizer, text, { checkpointRef: "t", numerics });
    const { header, payload } = await readCompressed(file);
    // A sound container whose payload is not what its header says: every check but the last passes.
    const forged = await writeCompressed(
      header,
      payload.map((b) => b ^ 0x55),
    );
    await expect(
      decompress(model, tokenizer, forged, { checkpointRef: "t", numerics, source: "x.rlz" }),
    ).rejects.toThrow(/^x\.rlz: the decoded bytes do not match the original's SHA-256/);
    if (!nativeHere) return;
    // A stock file whose header claims native kernels of an unrecorded build (as files from before builds
    // were recorded do): decoded on trust of that claim, and the native kernels' probabilities are not the
    // stock ones', so the SHA-256 is what stands between the claim and wrong bytes.
    const stockNumerics = numericsOfBackend(await initBackend("wasm", { nativeKernels: false }));
    const nativeNumerics = numericsOfBackend(await initBackend("wasm", { nativeKernels: true }));
    const fromStock = await compress(model, tokenizer, text, { checkpointRef: "t", numerics: stockNumerics });
    const stock = await readCompressed(fromStock.file);
    const legacy = nativeNumerics.id.replace(/ · native build [^·]+?(?= · )/, "");
    const lying = await writeCompressed({ ...stock.header, numerics: legacy }, stock.payload);
    const result = await decompress(model, tokenizer, lying, {
      checkpointRef: "t",
      numerics: nativeNumerics,
    }).then(
      (bytes) => bytes,
      (error: Error) => error,
    );
    if (result instanceof Error) expect(result.message).toMatch(/do not match the original's SHA-256/);
    else expect(result).toEqual(text); // the same bits after all: the right bytes, never others
  });
});

describe("rlhf decompress in fresh processes, native kernels on and off", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "compress-native-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const checkpoint = path.join(dir, "checkpoint");
  const input = path.join(dir, "in.txt");

  /** `rlhf <args>` in its own process, the native kernels off (`RLHF_NATIVE_KERNELS=0`) or left on. */
  function rlhf(args: string[], nativeKernels: "on" | "off") {
    const env: NodeJS.ProcessEnv = { ...process.env, RLHF_QUIET: "1" };
    delete env.RLHF_NATIVE_KERNELS;
    if (nativeKernels === "off") env.RLHF_NATIVE_KERNELS = "0";
    const out = spawnSync(
      process.execPath,
      ["--import", "tsx", path.join(here, "../src/cli/main.ts"), ...args],
      { env, encoding: "utf8", timeout: 120_000, cwd: path.join(here, "..") },
    );
    return { code: out.status, stdout: out.stdout, stderr: out.stderr };
  }

  beforeAll(async () => {
    await saveCheckpoint(checkpoint, model, tokenizer);
    writeFileSync(input, text);
  });

  it("a file compressed with them off decodes in a process that has them on (it turns them off for the file)", () => {
    const packed = path.join(dir, "stock.rlz");
    const made = rlhf(["compress", "--checkpoint", checkpoint, "--backend", "wasm", input, packed], "off");
    expect(made.code, made.stderr).toBe(0);
    expect(readHeader(readFileSync(packed)).numerics).not.toMatch(/native/);
    const restored = path.join(dir, "stock.out");
    const done = rlhf(["decompress", packed, restored], "on");
    expect(done.code, done.stderr).toBe(0);
    expect(new Uint8Array(readFileSync(restored))).toEqual(text);
  });

  it.runIf(nativeHere)(
    "a file compressed with them on is refused with them off, saying how, and decodes with them on",
    () => {
      const packed = path.join(dir, "native.rlz");
      const made = rlhf(["compress", "--checkpoint", checkpoint, "--backend", "wasm", input, packed], "on");
      expect(made.code, made.stderr).toBe(0);
      expect(readHeader(readFileSync(packed)).numerics).toMatch(/ · native build \S+/);
      const refused = rlhf(["decompress", packed, path.join(dir, "native.refused")], "off");
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(
        /compressed with the native kernels \(built for ".+"\); this process has them off \(RLHF_NATIVE_KERNELS=0\).*Decompress it with RLHF_NATIVE_KERNELS unset/,
      );
      expect(existsSync(path.join(dir, "native.refused"))).toBe(false);
      const done = rlhf(["decompress", packed, path.join(dir, "native.out")], "on");
      expect(done.code, done.stderr).toBe(0);
      expect(new Uint8Array(readFileSync(path.join(dir, "native.out")))).toEqual(text);
    },
  );
});
