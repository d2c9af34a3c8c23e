import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  bf16ToF32,
  decodeSafetensors,
  encodeSafetensors,
  type F32Tensor,
  f16ToF32,
  readSafetensors,
  writeSafetensors,
} from "../src/checkpoint/safetensors";

const tmp = mkdtempSync(join(tmpdir(), "safetensors-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function f32(shape: number[], values?: number[]): F32Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return {
    dtype: "F32",
    shape,
    data: Float32Array.from(values ?? Array.from({ length: n }, (_, i) => i * 0.5 - 3)),
  };
}

/** A file assembled from a header string and raw data bytes, with no help from the module. */
function handMade(header: string, data: number[]): Buffer {
  const json = Buffer.from(header, "utf8");
  const prefix = [json.length & 0xff, (json.length >> 8) & 0xff, 0, 0, 0, 0, 0, 0];
  return Buffer.concat([Buffer.from(prefix), json, Buffer.from(data)]);
}

describe("f16 / bf16 decoding", () => {
  it("decodes half-precision bit patterns to hand-computed values", () => {
    const cases: [number, number][] = [
      [0x0000, 0],
      [0x3c00, 1],
      [0xc000, -2],
      [0x3555, 0.333251953125], // (1 + 341/1024) · 2^-2
      [0x7bff, 65504], // largest finite half
      [0x0400, 2 ** -14], // smallest normal
      [0x03ff, 1023 * 2 ** -24], // largest subnormal
      [0x0001, 2 ** -24], // smallest subnormal
      [0x7c00, Number.POSITIVE_INFINITY],
      [0xfc00, Number.NEGATIVE_INFINITY],
    ];
    for (const [bits, value] of cases) expect(f16ToF32(bits)).toBe(value);
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
    expect(f16ToF32(0x7e00)).toBeNaN();
  });

  it("decodes bfloat16 bit patterns to hand-computed values", () => {
    const cases: [number, number][] = [
      [0x3f80, 1],
      [0xc000, -2],
      [0x4049, 3.140625], // 0x40490000
      [0x3eab, 0.333984375], // (1 + 43/128) · 2^-2
      [0x0001, 2 ** -133], // float32 subnormal 0x00010000
      [0x7f80, Number.POSITIVE_INFINITY],
      [0xff80, Number.NEGATIVE_INFINITY],
    ];
    for (const [bits, value] of cases) expect(bf16ToF32(bits)).toBe(value);
    expect(Object.is(bf16ToF32(0x8000), -0)).toBe(true);
    expect(bf16ToF32(0x7fc0)).toBeNaN();
  });
});

describe("reading a hand-made file", () => {
  // Offsets 14, 30 and 34 are deliberately unaligned, and the header is not padded.
  const header =
    '{"__metadata__":{"format":"pt"},' +
    '"half":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},' +
    '"brain":{"dtype":"BF16","shape":[3],"data_offsets":[8,14]},' +
    '"ids":{"dtype":"I64","shape":[2],"data_offsets":[14,30]},' +
    '"scalar":{"dtype":"I32","shape":[],"data_offsets":[30,34]},' +
    '"w":{"dtype":"F32","shape":[2],"data_offsets":[34,42]}}';
  const data = [
    ...[0x00, 0x3c, 0x00, 0xc0, 0x55, 0x35, 0x00, 0x7c], // F16 1, -2, 0.333251953125, +inf
    ...[0x80, 0x3f, 0x49, 0x40, 0x80, 0xff], // BF16 1, 3.140625, -inf
    ...[0x01, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // I64 1, -2
    ...[0x07, 0, 0, 0], // I32 7
    ...[0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x80, 0xbe], // F32 1.5 (0x3fc00000), -0.25 (0xbe800000)
  ];

  it("decodes every dtype, shape and the metadata", () => {
    const { tensors, metadata } = decodeSafetensors(handMade(header, data));
    expect(metadata).toEqual({ format: "pt" });
    expect([...tensors.keys()]).toEqual(["half", "brain", "ids", "scalar", "w"]);
    expect(tensors.get("half")).toEqual({
      dtype: "F16",
      shape: [2, 2],
      data: Float32Array.from([1, -2, 0.333251953125, Number.POSITIVE_INFINITY]),
    });
    expect(tensors.get("brain")).toEqual({
      dtype: "BF16",
      shape: [3],
      data: Float32Array.from([1, 3.140625, Number.NEGATIVE_INFINITY]),
    });
    expect(tensors.get("ids")).toEqual({ dtype: "I64", shape: [2], data: BigInt64Array.from([1n, -2n]) });
    expect(tensors.get("scalar")).toEqual({ dtype: "I32", shape: [], data: Int32Array.from([7]) });
    expect(tensors.get("w")).toEqual({ dtype: "F32", shape: [2], data: Float32Array.from([1.5, -0.25]) });
  });

  it("reads from a Buffer that is a slice of a larger allocation", () => {
    const file = handMade(header, data);
    const big = Buffer.alloc(file.length + 3);
    file.copy(big, 3);
    const { tensors } = decodeSafetensors(big.subarray(3));
    expect(tensors.get("w")?.data).toEqual(Float32Array.from([1.5, -0.25]));
  });
});

describe("writing", () => {
  it("produces exactly the bytes of the format", () => {
    const bytes = encodeSafetensors({ w: f32([2], [1.5, -0.25]) });
    const json = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'; // 54 bytes, padded to 56
    const expected = Buffer.concat([
      Buffer.from([56, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from(`${json}  `, "utf8"),
      Buffer.from([0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x80, 0xbe]),
    ]);
    expect(bytes).toEqual(expected);
  });

  it("round-trips tensors and metadata through a file, header aligned, tensors in order", async () => {
    const tensors = {
      "wte.weight": f32([5, 3]),
      "ln_f.bias": f32([3], [0.1, -0.2, 1e-30]),
      scalar: f32([], [42]),
      empty: f32([0, 4], []),
      "ü-名前": f32([2], [Number.POSITIVE_INFINITY, -0]),
    };
    const path = join(tmp, "model.safetensors");
    await writeSafetensors(path, tensors, { format: "pt", step: "100" });
    expect(readdirSync(tmp).filter((f) => f.endsWith(".tmp"))).toEqual([]);

    const raw = readFileSync(path);
    const headerLength = Number(raw.readBigUInt64LE(0));
    expect((8 + headerLength) % 8).toBe(0);
    const header = JSON.parse(raw.subarray(8, 8 + headerLength).toString("utf8"));
    expect(Object.keys(header)).toEqual(["__metadata__", ...Object.keys(tensors)]);
    let offset = 0;
    for (const name of Object.keys(tensors)) {
      expect(header[name].data_offsets[0]).toBe(offset);
      offset = header[name].data_offsets[1];
    }
    expect(raw.length).toBe(8 + headerLength + offset);
    expect(raw).toEqual(encodeSafetensors(tensors, { format: "pt", step: "100" }));

    const read = await readSafetensors(path);
    expect(read.metadata).toEqual({ format: "pt", step: "100" });
    expect([...read.tensors.keys()]).toEqual(Object.keys(tensors));
    for (const [name, tensor] of Object.entries(tensors)) expect(read.tensors.get(name)).toEqual(tensor);
  });

  it("replaces an existing file atomically", async () => {
    const path = join(tmp, "replace.safetensors");
    await writeSafetensors(path, { a: f32([2]) });
    await writeSafetensors(path, { b: f32([3]) });
    expect([...(await readSafetensors(path)).tensors.keys()]).toEqual(["b"]);
    expect(existsSync(`${path}.tmp`)).toBe(false);
  });

  it("refuses bad input with the tensor named", () => {
    const bad = { dtype: "F32" as const, shape: [2, 3], data: new Float32Array(5) };
    expect(() => encodeSafetensors({ "h.0.attn": bad })).toThrow(
      'tensor "h.0.attn": shape [2,3] has 6 elements but data has 5',
    );
    expect(() => encodeSafetensors({ __metadata__: f32([1]) })).toThrow(/reserved/);
    expect(() => encodeSafetensors({ x: f32([1]) }, { step: 5 as unknown as string })).toThrow(
      /only allows strings/,
    );
  });
});

describe("corrupt files", () => {
  const ok =
    '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}';
  const twelveBytes = Array.from({ length: 12 }, () => 0);
  const decode = (buffer: Buffer) => () => decodeSafetensors(buffer, "ckpt/model.safetensors");

  it("accepts the baseline", () => {
    expect(decodeSafetensors(handMade(ok, twelveBytes)).tensors.size).toBe(2);
  });

  it("rejects a file too short for the length prefix", () => {
    expect(decode(Buffer.from([1, 2, 3]))).toThrow("ckpt/model.safetensors: file is 3 bytes");
  });

  it("rejects a header length bigger than the file", () => {
    const file = handMade(ok, twelveBytes);
    file.writeBigUInt64LE(10_000n, 0);
    expect(decode(file)).toThrow(/header length is 10000 bytes but only \d+ bytes follow/);
    const huge = Buffer.from(file);
    huge.writeBigUInt64LE(2n ** 63n, 0);
    expect(decode(huge)).toThrow(/header length is 9223372036854775808 bytes/);
  });

  it("rejects a header that is not JSON", () => {
    expect(decode(handMade('{"a":', twelveBytes))).toThrow(/header is not valid UTF-8 JSON/);
    expect(decode(handMade("[1,2]", twelveBytes))).toThrow(/header is not a JSON object/);
  });

  it("rejects a shape × dtype size that disagrees with the offsets", () => {
    const header = ok.replace('"shape":[1]', '"shape":[2]');
    expect(decode(handMade(header, twelveBytes))).toThrow(
      'tensor "b": shape [2] × F32 (4 bytes) is 8 bytes but data_offsets [8, 12] span 4',
    );
  });

  it("rejects overlapping offsets", () => {
    const header =
      '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
    expect(decode(handMade(header, Array(8).fill(0)))).toThrow(
      /tensor "b": data_offsets \[4, 8\] overlap tensor "a"/,
    );
  });

  it("rejects offsets past the end of the data", () => {
    expect(decode(handMade(ok, Array(10).fill(0)))).toThrow(
      'tensor "b": data_offsets [8, 12] run past the 10-byte data section',
    );
  });

  it("rejects gaps and trailing bytes", () => {
    const gap = ok.replace("[8,12]", "[9,13]");
    expect(decode(handMade(gap, Array(13).fill(0)))).toThrow(/tensor "b": .* leave a gap after byte 8/);
    expect(decode(handMade(ok, Array(16).fill(0)))).toThrow(
      /tensors cover 12 bytes but the data section has 16/,
    );
  });

  it("rejects unsupported or unknown dtypes and malformed entries", () => {
    const f64 = '{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}';
    expect(decode(handMade(f64, Array(8).fill(0)))).toThrow(
      /tensor "x": dtype F64 is not supported \(supported: F32/,
    );
    const junk = '{"x":{"dtype":"toString","shape":[1],"data_offsets":[0,8]}}';
    expect(decode(handMade(junk, Array(8).fill(0)))).toThrow(/tensor "x": unknown dtype "toString"/);
    const negative = '{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}';
    expect(decode(handMade(negative, Array(4).fill(0)))).toThrow(/tensor "x": shape \[-1\] is not a list/);
    const reversed = '{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}';
    expect(decode(handMade(reversed, Array(4).fill(0)))).toThrow(/tensor "x": data_offsets \[4,0\] is not/);
    const meta = '{"__metadata__":{"step":5}}';
    expect(decode(handMade(meta, []))).toThrow(/__metadata__\["step"\] is 5; expected a string/);
  });

  it("names the path when reading from disk", async () => {
    const path = join(tmp, "truncated.safetensors");
    writeFileSync(path, handMade(ok, twelveBytes).subarray(0, 40));
    await expect(readSafetensors(path)).rejects.toThrow(`${path}: header length`);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Optional cross-checks against independent readers/writers in Python.

function pythonWith(module: string): string | undefined {
  for (const python of ["python3", "/usr/bin/python3"]) {
    try {
      execFileSync(python, ["-c", `import ${module}`], { stdio: "ignore" });
      return python;
    } catch {}
  }
  return undefined;
}
const plainPython = pythonWith("json");
const torchPython = pythonWith("torch");

describe.skipIf(!plainPython)("cross-check: a 20-line Python struct/json reader", () => {
  it("reads our file to the same bits", async () => {
    const path = join(tmp, "py.safetensors");
    const tensors = { a: f32([3, 2]), "b.c": f32([4], [1e-40, -7, 3.5, Number.NEGATIVE_INFINITY]) };
    await writeSafetensors(path, tensors, { who: "test" });
    const script = `
import json, struct, sys
data = open(sys.argv[1], "rb").read()
n, = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
out = {"metadata": header.pop("__metadata__", None), "aligned": (8 + n) % 8 == 0, "tensors": {}}
for name, info in header.items():
    begin, end = info["data_offsets"]
    raw = data[8 + n + begin: 8 + n + end]
    out["tensors"][name] = {"shape": info["shape"], "bits": list(struct.unpack("<%dI" % (len(raw) // 4), raw))}
print(json.dumps(out))
`;
    const out = JSON.parse(execFileSync(plainPython!, ["-c", script, path], { encoding: "utf8" }));
    expect(out.metadata).toEqual({ who: "test" });
    expect(out.aligned).toBe(true);
    for (const [name, t] of Object.entries(tensors)) {
      expect(out.tensors[name].shape).toEqual(t.shape);
      expect(out.tensors[name].bits).toEqual([...new Uint32Array(t.data.buffer)]);
    }
  });
});

describe.skipIf(!torchPython)("cross-check: torch's float16 / bfloat16 conversions", () => {
  it("decodes F16 and BF16 written by torch to torch's float32 values", () => {
    const path = join(tmp, "torch.safetensors");
    const script = `
import json, struct, sys, torch
torch.manual_seed(0)
x = torch.cat([torch.randn(2000) * 3, torch.randn(500) * 1e-6, torch.randn(500) * 1e5,
               torch.tensor([0.0, -0.0, float("inf"), float("-inf"), 65504.0, 6e-8])])
half, bf = x.to(torch.float16), x.to(torch.bfloat16)
hb, bb = half.view(torch.int16).numpy().tobytes(), bf.view(torch.int16).numpy().tobytes()
header = {"half": {"dtype": "F16", "shape": [len(x)], "data_offsets": [0, len(hb)]},
          "bf": {"dtype": "BF16", "shape": [len(x)], "data_offsets": [len(hb), len(hb) + len(bb)]}}
h = json.dumps(header).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + hb + bb)
print(json.dumps({"half": half.float().view(torch.int32).tolist(), "bf": bf.float().view(torch.int32).tolist()}))
`;
    const expected = JSON.parse(execFileSync(torchPython!, ["-c", script, path], { encoding: "utf8" }));
    const decoded = decodeSafetensors(readFileSync(path));
    for (const name of ["half", "bf"]) {
      const data = decoded.tensors.get(name)!.data as Float32Array;
      expect([...new Int32Array(data.buffer)]).toEqual(expected[name]);
    }
  });
});
