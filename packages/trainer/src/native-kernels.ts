/**
 * Native float32 products and transposes for tfjs-backend-wasm in Node: a small N-API addon
 * (../native/matmul.cc) built on first use with the machine's g++ (-O3 -march=native, about a second) into a
 * cache directory, then loaded by every process and worker thread. It works on the wasm heap in place (no
 * copies): the wasm backend keeps its tensors, its memory and every other kernel.
 *
 * Why: tfjs-backend-wasm's XNNPACK build runs a GPT step's products at 4-20 GFLOP/s on one thread, its
 * batched and transposed forms far lower, and its Transpose at ~11 ns per element; the addon's blocked
 * kernels (AVX-512/AVX2 by -march=native) run the same products 3-8x faster and take transposed operands
 * for free (the transpose happens while packing). Measured figures: docs/benchmarks.md, "Levers tried".
 *
 * Added kernels (names in model/ops.ts): GPT-2's tanh GELU and its gradient in one pass each instead of 6
 * and 11 element-wise kernels; layer norm forward and backward in one kernel each instead of 9 and 12.
 *
 * Replaced kernels: BatchMatMul (any transposes; equal batch shapes or one side unbatched), _FusedMatMul
 * (bias of the output width, no activation), Transpose (permutations that swap two adjacent groups of axes:
 * [1,0], [0,2,1], [2,0,1,3], [1,2,0,3], ...). Anything else goes to the kernel registered before.
 * Results equal the wasm kernels' up to float summation order (test/native-kernels.test.ts).
 *
 * When g++, Node's headers or a writable cache are missing, or the addon does not load, nothing is replaced
 * and `nativeKernelsStatus()` says why. RLHF_NATIVE_KERNELS=0 turns it off.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { coreEnv } from "@rlhf/core/env";
import * as tf from "@tensorflow/tfjs";
import { GELU_GRAD_KERNEL, GELU_KERNEL, LAYER_NORM_GRAD_KERNEL, LAYER_NORM_KERNEL } from "./model/ops";

interface NativeAddon {
  gemm(
    heap: ArrayBuffer,
    batch: number,
    m: number,
    n: number,
    k: number,
    aOffset: number,
    aStride: number,
    transposeA: number,
    bOffset: number,
    bStride: number,
    transposeB: number,
    outOffset: number,
    biasOffset: number,
  ): void;
  transpose(
    heap: ArrayBuffer,
    srcOffset: number,
    dstOffset: number,
    outer: number,
    rows: number,
    cols: number,
    inner: number,
  ): void;
  gelu(heap: ArrayBuffer, xOffset: number, dyOffset: number, outOffset: number, n: number): void;
  layerNorm(heap: ArrayBuffer, ...offsetsEpsRowsD: number[]): void;
  layerNormGrad(heap: ArrayBuffer, ...offsetsRowsD: number[]): void;
  vectorWidth: number;
  /** What the addon was compiled for, as far as it decides float results (native/matmul.cc, TARGET). */
  target: string;
}

export interface NativeKernelsStatus {
  /** Whether the native kernels are registered for the wasm backend now. */
  active: boolean;
  /** Why not, when they are not. */
  reason?: string;
  /** Float lanes of the addon's vectors (16: AVX-512, 8: AVX2, 4: SSE). */
  vectorWidth?: number;
  /**
   * What the addon was compiled for, as far as it decides the float results: architecture, widest vector
   * instructions, FMA or not, compiler, C library and the kernels' numerics revision, e.g.
   * "x86-64 avx512f fma gcc-12.2.0 glibc-2.36 r1". Two machines with the same target compute the same bits
   * (compressed files record it: compress/backend-numerics.ts).
   */
  target?: string;
  /** The built addon. */
  file?: string;
  /** The kernels replaced and added, when active. */
  kernels?: string[];
}

/** The parts of tfjs-backend-wasm's BackendWasm used here (internal API of 4.22). */
interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get: (dataId: object) => { memoryOffset: number } };
  makeOutput: (shape: number[], dtype: tf.DataType) => tf.TensorInfo;
}
type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown };
type Kernel = (args: KernelArgs) => tf.TensorInfo;

const KERNELS = ["BatchMatMul", "_FusedMatMul", "Transpose"] as const;
const ADDED = [GELU_KERNEL, GELU_GRAD_KERNEL, LAYER_NORM_KERNEL, LAYER_NORM_GRAD_KERNEL];

let addon: NativeAddon | undefined;
let loadError: string | undefined;
let previous: Map<string, tf.KernelConfig> | undefined;
let status: NativeKernelsStatus = { active: false, reason: "not initialised" };

/** The addon's source, next to src/ in the package. */
function sourceFile(): string {
  const here = typeof __dirname === "string" ? __dirname : path.dirname(fileURLToPath(import.meta.url));
  return path.join(here, "..", "native", "matmul.cc");
}

/** Build (once per source, CPU and Node ABI) and load the addon, or say why not. */
function loadAddon(): NativeAddon {
  if (addon) return addon;
  if (loadError) throw new Error(loadError);
  try {
    const source = fs.readFileSync(sourceFile(), "utf8");
    const cpu = os.cpus()[0]?.model ?? "cpu";
    const key = createHash("sha256")
      .update(`${source}\n${cpu}\n${process.arch}\n${process.platform}\n${process.versions.modules}`)
      .digest("hex")
      .slice(0, 16);
    const file = path.join(cacheDir(), `matmul-${key}.node`);
    if (fs.existsSync(file)) {
      try {
        ownedPrivately(file);
      } catch {
        fs.rmSync(file, { force: true }); // not ours alone: build our own instead of loading it
      }
    }
    if (!fs.existsSync(file)) build(sourceFile(), file);
    ownedPrivately(file);
    const require = createRequire(import.meta.url);
    addon = require(/* turbopackIgnore: true */ file) as NativeAddon;
    status.file = file;
    return addon;
  } catch (error) {
    loadError = (error instanceof Error ? error.message : String(error)).split("\n")[0] as string;
    throw new Error(loadError);
  }
}

function cacheDir(): string {
  const candidates = [
    coreEnv().RLHF_NATIVE_CACHE,
    path.join(os.homedir(), ".cache", "rlhf-workbench"),
    path.join(os.tmpdir(), "rlhf-workbench-native"),
  ].filter((d): d is string => Boolean(d));
  for (const dir of candidates) {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      fs.accessSync(dir, fs.constants.W_OK);
      // Ours but made under a loose umask: tighten it (we own it, so we may).
      if (fs.lstatSync(dir).uid === process.getuid?.()) fs.chmodSync(dir, 0o700);
      ownedPrivately(dir);
      return dir;
    } catch {
      // next candidate
    }
  }
  throw new Error("no writable cache directory of this user's own for the native kernels");
}

/**
 * The addon is code this process loads: its directory and file must be this user's and writable by no one
 * else (a shared temporary directory another account created, or a file planted in it, is refused), and
 * neither may be a symbolic link.
 */
function ownedPrivately(target: string): void {
  const stat = fs.lstatSync(target);
  const uid = process.getuid?.();
  if (stat.isSymbolicLink()) throw new Error(`${target} is a symbolic link`);
  if (uid !== undefined && stat.uid !== uid) throw new Error(`${target} belongs to another user`);
  if ((stat.mode & 0o022) !== 0) throw new Error(`${target} is writable by other users`);
}

function build(source: string, file: string): void {
  const include = path.join(path.dirname(path.dirname(process.execPath)), "include", "node");
  if (!fs.existsSync(path.join(include, "node_api.h")))
    throw new Error(`Node's headers not found in ${include}`);
  // A unique temporary name, then a rename: processes building at the same time do not see half a file.
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const args = ["-O3", "-march=native", "-shared", "-fPIC", "-std=c++17", `-I${include}`, source, "-o", tmp];
  try {
    // The ignore comment: a bundle that imports the backend (the dashboard's playground) need not trace
    // the whole project for what this call might read (Turbopack warned, and traced it, in every build).
    execFileSync(/* turbopackIgnore: true */ coreEnv().CXX ?? "g++", args, {
      stdio: ["ignore", "ignore", "pipe"],
      timeout: 60_000,
    });
    fs.chmodSync(tmp, 0o755);
    fs.renameSync(tmp, file);
  } catch (error) {
    fs.rmSync(tmp, { force: true });
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`g++ could not build the native kernels${stderr ? `: ${stderr.split("\n")[0]}` : ""}`);
  }
}

/**
 * Register the native kernels for the wasm backend (idempotent), or leave the backend as it is and return
 * why not. `enabled: false` puts back the kernels that were registered before.
 */
export function setNativeKernels(enabled = true): NativeKernelsStatus {
  if (!enabled) {
    if (previous) {
      for (const [name, config] of previous) {
        tf.unregisterKernel(name, "wasm");
        tf.registerKernel(config);
      }
      previous = undefined;
      for (const name of ADDED) tf.unregisterKernel(name, "wasm");
    }
    status = { ...status, active: false, reason: "turned off" };
    return status;
  }
  if (previous) return status;
  if (coreEnv().RLHF_NATIVE_KERNELS === "0") {
    status = { active: false, reason: "RLHF_NATIVE_KERNELS=0" };
    return status;
  }
  let native: NativeAddon;
  try {
    native = loadAddon();
  } catch (error) {
    status = { active: false, reason: (error as Error).message };
    return status;
  }
  const configs = KERNELS.map((name) => tf.getKernel(name, "wasm"));
  if (configs.some((c) => !c)) {
    status = { active: false, reason: "the wasm backend is not registered" };
    return status;
  }
  previous = new Map(configs.map((c) => [(c as tf.KernelConfig).kernelName, c as tf.KernelConfig]));
  const wrap = (name: string, fn: (args: KernelArgs, fallback: Kernel, n: NativeAddon) => tf.TensorInfo) => {
    const old = previous?.get(name) as tf.KernelConfig;
    const fallback = old.kernelFunc as unknown as Kernel;
    tf.unregisterKernel(name, "wasm");
    tf.registerKernel({
      kernelName: name,
      backendName: "wasm",
      setupFunc: old.setupFunc,
      kernelFunc: ((args: KernelArgs) => fn(args, fallback, native)) as unknown as tf.KernelFunc,
    });
  };
  wrap("BatchMatMul", (args, fallback, n) => matMul(args, fallback, n, false));
  wrap("_FusedMatMul", (args, fallback, n) => matMul(args, fallback, n, true));
  wrap("Transpose", transpose);
  const added: [string, (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]][] = [
    [GELU_KERNEL, (args) => gelu(args, native, false)],
    [GELU_GRAD_KERNEL, (args) => gelu(args, native, true)],
    [LAYER_NORM_KERNEL, (args) => layerNorm(args, native)],
    [LAYER_NORM_GRAD_KERNEL, (args) => layerNormGrad(args, native)],
  ];
  for (const [kernelName, fn] of added) {
    tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc: fn as unknown as tf.KernelFunc });
  }
  status = {
    active: true,
    vectorWidth: native.vectorWidth,
    target: native.target,
    file: status.file,
    kernels: [...KERNELS, ...ADDED],
  };
  return status;
}

/** Whether the native kernels are in use, and why not when they are not. */
export function nativeKernelsStatus(): NativeKernelsStatus {
  return status;
}

function product(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function matMul(args: KernelArgs, fallback: Kernel, native: NativeAddon, fused: boolean): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  if (!a || !b || a.dtype !== "float32" || b.dtype !== "float32") return fallback(args);
  if (a.shape.length < 2 || b.shape.length < 2) return fallback(args);
  const transposeA = args.attrs?.transposeA === true;
  const transposeB = args.attrs?.transposeB === true;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = a.shape[transposeA ? ra - 1 : ra - 2] as number;
  const k = a.shape[transposeA ? ra - 2 : ra - 1] as number;
  const kb = b.shape[transposeB ? rb - 1 : rb - 2] as number;
  const n = b.shape[transposeB ? rb - 2 : rb - 1] as number;
  const batchDimsA = a.shape.slice(0, -2);
  const batchDimsB = b.shape.slice(0, -2);
  const batchA = product(batchDimsA);
  const batchB = product(batchDimsB);
  // Equal batch shapes, or one side unbatched; other broadcasting (and shape errors) to the old kernel.
  if (k !== kb || (!sameDims(batchDimsA, batchDimsB) && batchA !== 1 && batchB !== 1)) return fallback(args);
  if (fused) {
    const activation = args.attrs?.activation;
    if (preluActivationWeights || (activation !== undefined && activation !== "linear"))
      return fallback(args);
    if (
      bias &&
      (bias.dtype !== "float32" || product(bias.shape) !== n || bias.shape[bias.shape.length - 1] !== n)
    )
      return fallback(args);
  }
  const batch = Math.max(batchA, batchB);
  const outBatchDims = batchA >= batchB ? batchDimsA : batchDimsB;
  const out = backend.makeOutput([...outBatchDims, m, n], "float32");
  if (batch * m * n === 0) return out;
  // The heap is read after makeOutput, whose allocation may have grown (and replaced) it.
  const { heap, at: offset } = heapOf(backend);
  native.gemm(
    heap,
    batch,
    m,
    n,
    k,
    offset(a),
    batchA === 1 ? 0 : m * k,
    transposeA ? 1 : 0,
    offset(b),
    batchB === 1 ? 0 : k * n,
    transposeB ? 1 : 0,
    offset(out),
    fused && bias ? offset(bias) : -1,
  );
  return out;
}

/**
 * `perm` as a swap of two adjacent groups of axes, [outer, rows, cols, inner] -> [outer, cols, rows, inner]
 * (sizes of the merged groups), or undefined when it is not one.
 */
export function asGroupSwap(
  shape: readonly number[],
  perm: readonly number[],
): { outer: number; rows: number; cols: number; inner: number } | undefined {
  const rank = perm.length;
  // Leading axes that stay in place, trailing axes that stay in place.
  let lead = 0;
  while (lead < rank && perm[lead] === lead) lead++;
  if (lead === rank) return undefined; // identity: nothing to swap
  let trail = rank;
  while (trail > lead && perm[trail - 1] === trail - 1) trail--;
  // The middle perm[lead..trail) must be [c, c+1, ..., trail-1, lead, lead+1, ..., c-1] for some c.
  const c = perm[lead] as number;
  for (let i = lead; i < trail; i++) {
    const expected = i - lead < trail - c ? c + (i - lead) : lead + (i - lead - (trail - c));
    if (perm[i] !== expected) return undefined;
  }
  return {
    outer: product(shape.slice(0, lead)),
    rows: product(shape.slice(lead, c)),
    cols: product(shape.slice(c, trail)),
    inner: product(shape.slice(trail)),
  };
}

function transpose(args: KernelArgs, fallback: Kernel, native: NativeAddon): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const x = args.inputs.x as tf.TensorInfo;
  const perm = args.attrs?.perm as number[] | undefined;
  if (!perm || (x.dtype !== "float32" && x.dtype !== "int32")) return fallback(args);
  const swap = asGroupSwap(x.shape, perm);
  if (!swap) return fallback(args);
  const out = backend.makeOutput(
    perm.map((p) => x.shape[p] as number),
    x.dtype,
  );
  if (product(x.shape) === 0) return out;
  const { heap, at: offset } = heapOf(backend);
  native.transpose(heap, offset(x), offset(out), swap.outer, swap.rows, swap.cols, swap.inner);
  return out;
}

function gelu(args: KernelArgs, native: NativeAddon, grad: boolean): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const { x, dy } = args.inputs as Record<string, tf.TensorInfo>;
  if (x?.dtype !== "float32" || (grad && (dy?.dtype !== "float32" || !sameDims(dy.shape, x.shape)))) {
    throw new Error(
      `${grad ? GELU_GRAD_KERNEL : GELU_KERNEL}: float32 x${grad ? " and dy of its shape" : ""}`,
    );
  }
  const out = backend.makeOutput(x.shape, "float32");
  const n = product(x.shape);
  if (n === 0) return out;
  const { heap, at } = heapOf(backend);
  native.gelu(heap, at(x), grad && dy ? at(dy) : -1, at(out), n);
  return out;
}

/** The wasm heap now (read after every makeOutput: an allocation may grow and replace it) and offsets in it. */
function heapOf(backend: WasmBackend): { heap: ArrayBuffer; at: (t: tf.TensorInfo) => number } {
  return {
    heap: backend.wasm.HEAPU8.buffer as ArrayBuffer,
    at: (t) => backend.dataIdMap.get(t.dataId).memoryOffset,
  };
}

function checkFloat2d(
  kernel: string,
  tensors: Record<string, tf.TensorInfo | undefined>,
  rows: number,
  d: number,
) {
  for (const [name, t] of Object.entries(tensors)) {
    const size = name === "rstd" ? rows : name === "gamma" || name === "beta" ? d : rows * d;
    if (t?.dtype !== "float32" || product(t.shape) !== size) {
      throw new Error(`${kernel}: ${name} must be float32 with ${size} elements`);
    }
  }
}

function layerNorm(args: KernelArgs, native: NativeAddon): tf.TensorInfo[] {
  const backend = args.backend as WasmBackend;
  const { x, gamma, beta } = args.inputs as Record<string, tf.TensorInfo>;
  const d = (x?.shape[x.shape.length - 1] ?? 0) as number;
  const rows = x ? product(x.shape) / Math.max(d, 1) : 0;
  checkFloat2d(LAYER_NORM_KERNEL, { x, gamma, beta }, rows, d);
  const y = backend.makeOutput([rows, d], "float32");
  const xhat = backend.makeOutput([rows, d], "float32");
  const rstd = backend.makeOutput([rows, 1], "float32");
  if (rows === 0) return [y, xhat, rstd];
  const { heap, at } = heapOf(backend);
  const eps = Number(args.attrs?.eps ?? 1e-5);
  native.layerNorm(
    heap,
    at(x as tf.TensorInfo),
    at(gamma as tf.TensorInfo),
    at(beta as tf.TensorInfo),
    eps,
    at(y),
    at(xhat),
    at(rstd),
    rows,
    d,
  );
  return [y, xhat, rstd];
}

function layerNormGrad(args: KernelArgs, native: NativeAddon): tf.TensorInfo[] {
  const backend = args.backend as WasmBackend;
  const { dy, xhat, rstd, gamma } = args.inputs as Record<string, tf.TensorInfo>;
  const d = (xhat?.shape[xhat.shape.length - 1] ?? 0) as number;
  const rows = xhat ? product(xhat.shape) / Math.max(d, 1) : 0;
  checkFloat2d(LAYER_NORM_GRAD_KERNEL, { dy, xhat, rstd, gamma }, rows, d);
  const dx = backend.makeOutput([rows, d], "float32");
  const dg = backend.makeOutput([d], "float32");
  const db = backend.makeOutput([d], "float32");
  const { heap, at } = heapOf(backend);
  const t = (info: tf.TensorInfo | undefined) => at(info as tf.TensorInfo);
  native.layerNormGrad(heap, t(dy), t(xhat), t(rstd), t(gamma), at(dx), at(dg), at(db), rows, d);
  return [dx, dg, db];
}
