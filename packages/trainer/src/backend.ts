/**
 * Backend choice for tfjs, best first: `tensorflow` (libtensorflow through @tensorflow/tfjs-node-gpu, else
 * @tensorflow/tfjs-node), then `webgpu` on a hardware GPU adapter (Dawn; see backend-webgpu.ts — a software
 * adapter only when `webgpu` is asked for), then `wasm`, then `cpu`. The model code is the same on all of them.
 *
 * On wasm this module also replaces two tfjs-backend-wasm 4.22 kernels with faster equivalents (same
 * results; see `patchWasmKernels`), because the stock ones make a GPT step several times slower:
 * - `BatchMatMul` only reaches XNNPACK for a single unbatched product without transposes; every batched
 *   product (attention) and every transposed form runs a scalar loop at ~1-2 GFLOP/s. The patch runs each
 *   batch item through the XNNPACK path on views of the operands, and turns transposed forms into an
 *   explicit transpose followed by a plain product.
 * - `Slice` copies the whole input out of the wasm heap before taking the slice (O(input) per slice); the
 *   patch reads the heap in place (O(output)).
 * - `Identity` (tf.clone, which tfjs runs on every tensor saved for a backward pass) copies the data; the
 *   patch shares it by reference count, as tfjs-backend-cpu does (tensors are immutable).
 * In Node it then installs native products, transposes, GELU and layer norm (native-kernels.ts: an addon
 * built with the machine's g++ on first use, 3-8x XNNPACK's speed), or keeps the above when it cannot.
 */
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import {
  chooseWebgpuAdapter,
  describeAdapter,
  type GpuAdapter,
  patchedWebgpuKernels,
  startWebgpu,
} from "./backend-webgpu";

export type { GpuAdapter } from "./backend-webgpu";
export type BackendName = "tensorflow" | "webgpu" | "wasm" | "cpu";
export type BackendPreference = BackendName | "auto";

export interface BackendInfo {
  /** The tfjs backend in use. */
  name: BackendName;
  /**
   * Where the arithmetic runs: "cuda", "cpu (libtensorflow)", "gpu (webgpu)", "software gpu (webgpu)",
   * "cpu (wasm, SIMD, 1 thread)", "cpu (js)".
   */
  device: string;
  /** GPU model, when running on CUDA and the name can be read (nvidia-smi). */
  gpuName?: string;
  /** The WebGPU adapter (vendor, architecture, description), on webgpu. */
  adapter?: GpuAdapter;
  /** npm package that provides the backend. */
  package: string;
  /**
   * Kernels replaced by ours: on wasm faster equivalents (see the module comment), on webgpu AddN, whose
   * stock pipeline is invalid past 7 inputs (backend-webgpu.ts).
   */
  patchedKernels?: string[];
  /**
   * On wasm in Node: whether the native kernels are on, and what their addon was built for (the numerics
   * of a compressed file record it), or why they are off.
   */
  nativeKernels?: { active: true; target: string } | { active: false; reason: string };
  /** Under `auto`: the better backends tried first, each with the reason it was passed over. */
  passedOver?: { name: BackendName; reason: string }[];
}

export interface InitBackendOptions {
  /** Replace the slow tfjs-backend-wasm kernels (default true). Only used on wasm. */
  patchWasmKernels?: boolean;
  /**
   * On wasm in Node, run products and transposes in the native addon (native-kernels.ts) when it builds
   * (default true; RLHF_NATIVE_KERNELS=0 also turns it off). Needs patchWasmKernels. Given explicitly to a
   * later call while wasm is active, it turns them on or off for the whole process (`rlhf decompress` does,
   * for a file whose header names the other kernels).
   */
  nativeKernels?: boolean;
}

let active: { info: BackendInfo } | undefined;
let pending: Promise<BackendInfo> | undefined;

/**
 * Initialise tfjs on the best available backend (or the one asked for) and report it. Idempotent: later
 * calls with "auto" or the active backend's name return the same info; an explicit other name switches.
 * An explicit preference that cannot load throws an error that says why.
 */
export async function initBackend(
  preference: BackendPreference = "auto",
  options: InitBackendOptions = {},
): Promise<BackendInfo> {
  if (pending) await pending.catch(() => undefined);
  if (active && (preference === "auto" || preference === active.info.name)) {
    const info = active.info;
    const on = info.nativeKernels?.active === true;
    if (info.nativeKernels && options.nativeKernels !== undefined && options.nativeKernels !== on)
      await applyNativeKernels(info, options.nativeKernels);
    return info;
  }
  pending = chooseBackend(preference, options);
  try {
    const info = await pending;
    active = { info };
    return info;
  } finally {
    pending = undefined;
  }
}

/** The active backend's info, or undefined before `initBackend`. */
export function backendInfo(): BackendInfo | undefined {
  return active?.info;
}

/** One line for banners, e.g. "wasm · cpu (wasm, SIMD, 1 thread) · @tensorflow/tfjs-backend-wasm · tfjs 4.22.0". */
export function describeBackend(info: BackendInfo | undefined = active?.info): string {
  if (!info) return `not initialised (tfjs ${tf.version.tfjs})`;
  return `${info.name} · ${describeDevice(info)} · ${info.package} · tfjs ${tf.version.tfjs}`;
}

/**
 * The device as a run records it: "cuda (NVIDIA A100)", "gpu (webgpu): nvidia ampere · NVIDIA: 550.54.14",
 * "software gpu (webgpu): google swiftshader · SwiftShader driver 5.0.0 · software", "cpu (js)".
 */
export function describeDevice(info: BackendInfo): string {
  if (info.adapter) return `${info.device}: ${describeAdapter(info.adapter)}`;
  return info.gpuName ? `${info.device} (${info.gpuName})` : info.device;
}

/**
 * A stable identifier of where the arithmetic ran, for results that must be bit-identical between runs
 * (compressed files, say): the backend, plus the GPU adapter or CUDA device. Two runs with the same id ran
 * the same kernels on the same kind of device; the tfjs version is part of it.
 */
export function backendId(info: BackendInfo): string {
  const where = info.adapter
    ? `${info.adapter.vendor}/${info.adapter.architecture}/${info.adapter.description}`
    : (info.gpuName ?? info.device);
  return `${info.name}:${where}:tfjs-${tf.version.tfjs}`;
}

async function chooseBackend(
  preference: BackendPreference,
  options: InitBackendOptions,
): Promise<BackendInfo> {
  const order: readonly BackendName[] = preference === "auto" ? AUTO_ORDER : [preference];
  const failures: { name: BackendName; reason: string }[] = [];
  for (const name of order) {
    try {
      const info = await initNamed(name, preference === "webgpu", options);
      if (failures.length > 0) info.passedOver = failures;
      return info;
    } catch (error) {
      failures.push({ name, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  const why = failures.map((f) => `${f.name}: ${f.reason}`).join("\n  ");
  throw new Error(
    preference === "auto"
      ? `No tfjs backend could be initialised:\n  ${why}`
      : `Backend "${preference}" is not available:\n  ${why}`,
  );
}

/** What `auto` tries, best first. */
export const AUTO_ORDER: readonly BackendName[] = ["tensorflow", "webgpu", "wasm", "cpu"];

function initNamed(name: BackendName, allowSoftwareGpu: boolean, options: InitBackendOptions) {
  if (name === "tensorflow") return initTensorflow();
  if (name === "webgpu") return initWebgpu(allowSoftwareGpu);
  if (name === "wasm") return initWasm(options);
  return initCpu();
}

async function initWebgpu(allowSoftware: boolean): Promise<BackendInfo> {
  const adapter = await startWebgpu(await chooseWebgpuAdapter(allowSoftware));
  return {
    name: "webgpu",
    device: adapter.software ? "software gpu (webgpu)" : "gpu (webgpu)",
    adapter,
    package: "@tensorflow/tfjs-backend-webgpu + webgpu (Dawn)",
    patchedKernels: [...patchedWebgpuKernels],
  };
}

async function initTensorflow(): Promise<BackendInfo> {
  const reasons: string[] = [];
  // Module names in variables, and the ignore comments, so bundlers (vitest's, Next's Turbopack in the
  // dashboard's server) leave the optional packages to Node at run time instead of bundling them.
  for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    try {
      await import(/* @vite-ignore */ /* turbopackIgnore: true */ pkg);
    } catch (error) {
      const notInstalled =
        (error as { code?: string }).code === "ERR_MODULE_NOT_FOUND" && String(error).includes(`'${pkg}'`);
      reasons.push(notInstalled ? `${pkg} is not installed` : `${pkg} does not load (${firstLine(error)})`);
      continue;
    }
    if (!(await tf.setBackend("tensorflow"))) {
      reasons.push(`${pkg} loaded but the "tensorflow" backend did not start`);
      continue;
    }
    await tf.ready();
    const usingGpu = (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice === true;
    const info: BackendInfo = {
      name: "tensorflow",
      device: usingGpu ? "cuda" : "cpu (libtensorflow)",
      package: pkg,
    };
    const gpuName = usingGpu ? readGpuName() : undefined;
    if (gpuName) info.gpuName = gpuName;
    return info;
  }
  throw new Error(reasons.join("; "));
}

function readGpuName(): string | undefined {
  try {
    const out = execFileSync("nvidia-smi", ["--query-gpu=name", "--format=csv,noheader"], {
      encoding: "utf8",
      timeout: 5000,
      stdio: ["ignore", "pipe", "ignore"],
    });
    const names = out
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean);
    return names.length > 0 ? names.join(", ") : undefined;
  } catch {
    return undefined;
  }
}

async function initWasm(options: InitBackendOptions): Promise<BackendInfo> {
  const wasmModule = await import("@tensorflow/tfjs-backend-wasm");
  const require = createRequire(import.meta.url);
  // The package's main file lives in its dist/ directory, next to the .wasm binaries.
  const distDir = `${path.dirname(require.resolve(/* turbopackIgnore: true */ "@tensorflow/tfjs-backend-wasm"))}${path.sep}`;
  wasmModule.setWasmPaths(distDir);
  if (!(await tf.setBackend("wasm"))) {
    throw new Error(`the wasm backend did not start (binaries looked up in ${distDir})`);
  }
  await tf.ready();
  const simd = (await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")) === true;
  const threads = wasmModule.getThreadsCount();
  const info: BackendInfo = {
    name: "wasm",
    device: `cpu (wasm${simd ? ", SIMD" : ""}, ${threads} thread${threads === 1 ? "" : "s"})`,
    package: "@tensorflow/tfjs-backend-wasm",
  };
  if (options.patchWasmKernels === false) return info;
  info.patchedKernels = patchWasmKernels();
  await applyNativeKernels(info, options.nativeKernels !== false);
  return info;
}

/** Turn the native kernels on or off and describe the result in `info` (device, patched kernels, status). */
async function applyNativeKernels(info: BackendInfo, enabled: boolean): Promise<void> {
  const { setNativeKernels } = await import("./native-kernels");
  const native = setNativeKernels(enabled);
  info.device = info.device.replace(/, native matmul \d+-bit\)$/, ")");
  info.patchedKernels = (info.patchedKernels ?? []).filter((k) => !k.startsWith("native:"));
  if (native.active) {
    info.device = info.device.replace(/\)$/, `, native matmul ${(native.vectorWidth ?? 0) * 32}-bit)`);
    info.patchedKernels = [...info.patchedKernels, `native:${(native.kernels ?? []).join("+")}`];
    info.nativeKernels = { active: true, target: native.target ?? "unknown target" };
  } else {
    const reason = enabled ? (native.reason ?? "unavailable") : "turned off by the caller";
    info.nativeKernels = { active: false, reason };
  }
}

async function initCpu(): Promise<BackendInfo> {
  if (!(await tf.setBackend("cpu"))) throw new Error("the cpu backend did not start");
  await tf.ready();
  return { name: "cpu", device: "cpu (js)", package: "@tensorflow/tfjs-backend-cpu" };
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0]?.trim() ?? message;
}

// ---------------------------------------------------------------------------------------------------------
// tfjs-backend-wasm kernel replacements. They use the backend's own heap, tensor registry and XNNPACK
// product; results are the same as the stock kernels' up to float summation order.

/** The parts of tfjs-backend-wasm's BackendWasm these kernels use (internal API of 4.22). */
interface WasmBackendInternals {
  wasm: {
    HEAPU8: Uint8Array;
    cwrap: (name: string, ret: null, args: string[]) => (...args: unknown[]) => void;
    tfjs: {
      registerTensor: (id: number, size: number, memoryOffset: number) => void;
      disposeData: (id: number) => void;
    };
  };
  dataIdMap: { get: (dataId: object) => { id: number; memoryOffset: number } };
  dataIdNextNumber: number;
  incRef: (dataId: object) => void;
  makeOutput: (shape: number[], dtype: tf.DataType) => tf.TensorInfo;
  disposeData: (dataId: object) => boolean;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown };

let patchedKernels: string[] | undefined;

/**
 * Replace tfjs-backend-wasm's `BatchMatMul`, `Slice` and `Identity` kernels (see the module comment).
 * Idempotent; returns the names of the replaced kernels.
 */
export function patchWasmKernels(): string[] {
  if (patchedKernels) return patchedKernels;
  const originalMatMul = tf.getKernel("BatchMatMul", "wasm");
  const originalSlice = tf.getKernel("Slice", "wasm");
  const transposeKernel = tf.getKernel("Transpose", "wasm");
  const originalIdentity = tf.getKernel("Identity", "wasm");
  if (!originalMatMul || !originalSlice || !transposeKernel || !originalIdentity) {
    patchedKernels = [];
    return patchedKernels;
  }
  const stockMatMul = originalMatMul.kernelFunc as unknown as (args: KernelArgs) => tf.TensorInfo;
  const stockSlice = originalSlice.kernelFunc as unknown as (args: KernelArgs) => tf.TensorInfo;
  const transpose = transposeKernel.kernelFunc as unknown as (args: KernelArgs) => tf.TensorInfo;

  tf.unregisterKernel("BatchMatMul", "wasm");
  tf.registerKernel({
    kernelName: "BatchMatMul",
    backendName: "wasm",
    setupFunc: originalMatMul.setupFunc,
    kernelFunc: ((args: KernelArgs) => batchMatMul(args, stockMatMul, transpose)) as unknown as tf.KernelFunc,
  });
  tf.unregisterKernel("Slice", "wasm");
  tf.registerKernel({
    kernelName: "Slice",
    backendName: "wasm",
    setupFunc: originalSlice.setupFunc,
    kernelFunc: ((args: KernelArgs) => slice(args, stockSlice)) as unknown as tf.KernelFunc,
  });
  const stockIdentity = originalIdentity.kernelFunc as unknown as (args: KernelArgs) => tf.TensorInfo;
  tf.unregisterKernel("Identity", "wasm");
  tf.registerKernel({
    kernelName: "Identity",
    backendName: "wasm",
    kernelFunc: ((args: KernelArgs) => identity(args, stockIdentity)) as unknown as tf.KernelFunc,
  });
  patchedKernels = ["BatchMatMul", "Slice", "Identity"];
  return patchedKernels;
}

const rawMatMuls = new WeakMap<object, (...args: unknown[]) => void>();

function rawBatchMatMul(backend: WasmBackendInternals): (...args: unknown[]) => void {
  let fn = rawMatMuls.get(backend.wasm);
  if (!fn) {
    // a_id, a_shape, a_rank, b_id, b_shape, b_rank, transpose_a, transpose_b, out_id
    fn = backend.wasm.cwrap("BatchMatMul", null, [
      "number",
      "array",
      "number",
      "number",
      "array",
      "number",
      "number",
      "number",
      "number",
    ]);
    rawMatMuls.set(backend.wasm, fn);
  }
  return fn;
}

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

function product(dims: number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

function batchMatMul(
  args: KernelArgs,
  stock: (args: KernelArgs) => tf.TensorInfo,
  transpose: (args: KernelArgs) => tf.TensorInfo,
): tf.TensorInfo {
  const backend = args.backend as WasmBackendInternals;
  let a = args.inputs.a as tf.TensorInfo;
  let b = args.inputs.b as tf.TensorInfo;
  const transposeA = args.attrs?.transposeA === true;
  const transposeB = args.attrs?.transposeB === true;
  if (a.dtype !== "float32" || b.dtype !== "float32" || a.shape.length < 2 || b.shape.length < 2) {
    return stock(args);
  }
  const batchDimsA = a.shape.slice(0, -2);
  const batchDimsB = b.shape.slice(0, -2);
  const batchA = product(batchDimsA);
  const batchB = product(batchDimsB);
  const sameBatch =
    batchDimsA.length === batchDimsB.length && batchDimsA.every((d, i) => d === batchDimsB[i]);
  // Broadcasting other than "one side unbatched" keeps the stock kernel.
  if (!sameBatch && batchA !== 1 && batchB !== 1) return stock(args);
  if (batchA === 1 && batchB === 1 && !transposeA && !transposeB) return stock(args);

  const temporaries: tf.TensorInfo[] = [];
  // Explicit transposes of the last two axes, then a plain product (XNNPACK has no transposed form here).
  const explicitTranspose = (x: tf.TensorInfo, batch: number): tf.TensorInfo => {
    const rows = x.shape[x.shape.length - 2] as number;
    const cols = x.shape[x.shape.length - 1] as number;
    const x3 = { dataId: x.dataId, dtype: x.dtype, shape: [batch, rows, cols] };
    const t = transpose({ inputs: { x: x3 }, attrs: { perm: [0, 2, 1] }, backend });
    temporaries.push(t);
    return { dataId: t.dataId, dtype: t.dtype, shape: [...x.shape.slice(0, -2), cols, rows] };
  };
  if (transposeA) a = explicitTranspose(a, batchA);
  if (transposeB) b = explicitTranspose(b, batchB);

  const m = a.shape[a.shape.length - 2] as number;
  const k = a.shape[a.shape.length - 1] as number;
  const kb = b.shape[b.shape.length - 2] as number;
  const n = b.shape[b.shape.length - 1] as number;
  if (k !== kb) {
    for (const t of temporaries) backend.disposeData(t.dataId);
    return stock(args); // let the stock kernel report the shape error
  }
  const batch = Math.max(batchA, batchB);
  if (batch === 1) {
    const result = stock({ inputs: { a, b }, attrs: { transposeA: false, transposeB: false }, backend });
    for (const t of temporaries) backend.disposeData(t.dataId);
    return result;
  }
  const outBatchDims = batchA >= batchB ? batchDimsA : batchDimsB;
  const out = backend.makeOutput([...outBatchDims, m, n], "float32");
  const raw = rawBatchMatMul(backend);
  const aOffset = backend.dataIdMap.get(a.dataId).memoryOffset;
  const bOffset = backend.dataIdMap.get(b.dataId).memoryOffset;
  const outOffset = backend.dataIdMap.get(out.dataId).memoryOffset;
  const aShape = shapeBytes([1, m, k]);
  const bShape = shapeBytes([1, k, n]);
  // Views of one batch item are registered under fresh ids so the C++ side sees [1, m, k] x [1, k, n],
  // which it sends to XNNPACK. Disposing an id only drops the registration (and the cached XNNPACK
  // operator), not the memory, which belongs to a, b and out.
  const idA = backend.dataIdNextNumber++;
  const idB = backend.dataIdNextNumber++;
  const idOut = backend.dataIdNextNumber++;
  const tfjs = backend.wasm.tfjs;
  for (let i = 0; i < batch; i++) {
    const ia = batchA === 1 ? 0 : i;
    const ib = batchB === 1 ? 0 : i;
    tfjs.registerTensor(idA, m * k, aOffset + ia * m * k * 4);
    tfjs.registerTensor(idB, k * n, bOffset + ib * k * n * 4);
    tfjs.registerTensor(idOut, m * n, outOffset + i * m * n * 4);
    raw(idA, aShape, 3, idB, bShape, 3, 0, 0, idOut);
    tfjs.disposeData(idA);
    tfjs.disposeData(idB);
    tfjs.disposeData(idOut);
  }
  for (const t of temporaries) backend.disposeData(t.dataId);
  return out;
}

function slice(args: KernelArgs, stock: (args: KernelArgs) => tf.TensorInfo): tf.TensorInfo {
  const backend = args.backend as WasmBackendInternals;
  const x = args.inputs.x as tf.TensorInfo;
  const rank = x.shape.length;
  if (x.dtype === "string" || rank === 0 || rank > 4) return stock(args);
  const [begin, size] = tf.slice_util.parseSliceParams(
    x as unknown as tf.Tensor,
    args.attrs?.begin as number | number[],
    args.attrs?.size as number | number[] | undefined,
  ) as [number[], number[]];
  const out = backend.makeOutput(size, x.dtype);
  const count = product(size);
  if (count === 0) return out;
  // Views are taken after makeOutput: its allocation may grow (and detach) the heap.
  const bytes = x.dtype === "bool" ? 1 : 4;
  const heap = backend.wasm.HEAPU8;
  const xOffset = backend.dataIdMap.get(x.dataId).memoryOffset;
  const outOffset = backend.dataIdMap.get(out.dataId).memoryOffset;
  const strides = tf.util.computeStrides(x.shape);
  let flat = 0;
  for (let d = 0; d < rank; d++) flat += (begin[d] as number) * (d < rank - 1 ? (strides[d] as number) : 1);
  if (tf.slice_util.isSliceContinous(x.shape, begin, size)) {
    const start = xOffset + flat * bytes;
    heap.copyWithin(outOffset, start, start + count * bytes);
    return out;
  }
  // Copy innermost rows; pad the shape to rank 4 so one loop nest serves ranks 2-4.
  const pad = 4 - rank;
  const sz = [...new Array<number>(pad).fill(1), ...size] as [number, number, number, number];
  const st = [...new Array<number>(pad).fill(0), ...strides, 1] as [number, number, number, number];
  const bg = [...new Array<number>(pad).fill(0), ...begin] as [number, number, number, number];
  const rowBytes = sz[3] * bytes;
  let dst = outOffset;
  for (let i = 0; i < sz[0]; i++) {
    for (let j = 0; j < sz[1]; j++) {
      for (let l = 0; l < sz[2]; l++) {
        const src =
          xOffset + ((bg[0] + i) * st[0] + (bg[1] + j) * st[1] + (bg[2] + l) * st[2] + bg[3]) * bytes;
        heap.copyWithin(dst, src, src + rowBytes);
        dst += rowBytes;
      }
    }
  }
  return out;
}

function identity(args: KernelArgs, stock: (args: KernelArgs) => tf.TensorInfo): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  if (x.dtype === "string") return stock(args);
  (args.backend as WasmBackendInternals).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}
