/**
 * WebGPU in Node: Dawn (Chrome's WebGPU implementation, npm `webgpu`, a prebuilt `dawn.node`) under
 * @tensorflow/tfjs-backend-webgpu. Dawn drives the GPU through Vulkan on Linux (Metal on macOS, D3D12 on
 * Windows): a GPU driver with Vulkan support is all a machine needs, no CUDA.
 *
 * Which adapter: Dawn's answer to `requestAdapter({ powerPreference: "high-performance" })`. The first look
 * runs in a child process (`probeWebgpuAdapter`): a broken driver can crash inside Vulkan, and Dawn writes
 * its warnings straight to stderr; both stay out of the job. A software adapter (SwiftShader, llvmpipe,
 * lavapipe: a CPU implementing the GPU API) is exact but slower than wasm, so `auto` passes over it and only
 * an explicit `webgpu` uses it. When Dawn finds no adapter at all and `webgpu` was asked for, the SwiftShader
 * Vulkan driver that Chromium ships (`vk_swiftshader_icd.json`) is tried: that is how the tests and the
 * benchmark run WebGPU on a machine without a GPU.
 *
 * Numerics: the model's ops (model/ops.ts) run unchanged (test/webgpu-*.test.ts compares them with wasm).
 *
 * Synchronous reads (`dataSync()`, which the trainers use for their losses): tfjs-backend-webgpu reads
 * synchronously by drawing through an OffscreenCanvas, which Node lacks ("OffscreenCanvas is not defined"),
 * and WebGPU has no blocking map. dawn.node completes a map in `instance.ProcessEvents()`, which it runs from
 * callbacks it schedules with the global `setImmediate`. `hookDawnScheduling` notes those callbacks (only
 * the ones scheduled from inside a call into Dawn), so that the backend's `readSync` (`readSynchronously`)
 * can map a staging buffer and run them itself until the map is done — the same copy-and-map as tfjs's
 * asynchronous `read`, waited for in place.
 * `await tensor.data()` stays the better read on a GPU: it lets the event loop run meanwhile.
 *
 * Kernel fix (`patchWebgpuKernels`): tfjs-backend-webgpu 4.22's `AddN` binds every input as a storage
 * buffer in one shader, so with more inputs than the device's maxStorageBuffersPerShaderStage − 1 (7 at
 * WebGPU's default limit of 8) the pipeline is invalid ("Invalid ComputePipeline "AddNPackedProgram"") and
 * the result is garbage — the global gradient norm (`tf.addN` over every parameter) hits it. The patch sums
 * in groups that fit, as the backend's own Concat already does.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { childEnv, coreEnv, setEnv } from "@rlhf/core/env";
import * as tf from "@tensorflow/tfjs";

/** The GPU adapter Dawn chose, as WebGPU's GPUAdapterInfo describes it. */
export interface GpuAdapter {
  /** e.g. "nvidia", "amd", "intel", "google" (SwiftShader). */
  vendor: string;
  /** e.g. "ampere", "rdna-3", "gen-12lp", "swiftshader". */
  architecture: string;
  /** Dawn's device string, e.g. "swiftshader-device-subzero-". */
  device: string;
  /** The driver's description, e.g. "NVIDIA: 550.54.14", "SwiftShader driver 5.0.0". */
  description: string;
  /** A CPU implementation of the GPU API (SwiftShader, llvmpipe, lavapipe): exact, but slow. */
  software: boolean;
  /** The Vulkan driver manifest Dawn was pointed at (VK_ICD_FILENAMES), when one was. */
  icd?: string;
}

/** What a look for an adapter found: the adapter, or why there is none (Dawn's own messages included). */
export interface AdapterProbe {
  adapter?: GpuAdapter;
  reason?: string;
}

const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render/i;

/** Where Chromium and Chrome keep SwiftShader's Vulkan driver manifest (Debian, Fedora, Google's .deb). */
const SWIFTSHADER_ICDS = [
  "/usr/lib/chromium/vk_swiftshader_icd.json",
  "/usr/lib64/chromium-browser/vk_swiftshader_icd.json",
  "/usr/lib/chromium-browser/vk_swiftshader_icd.json",
  "/opt/google/chrome/vk_swiftshader_icd.json",
];

/** SwiftShader's Vulkan driver manifest, when Chromium or Chrome is installed. */
export function findSwiftShaderIcd(): string | undefined {
  return SWIFTSHADER_ICDS.find((file) => existsSync(file));
}

function isSoftware(info: { vendor: string; architecture: string; device: string; description: string }) {
  return SOFTWARE_ADAPTER.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
}

/** One line for banners and run records: "nvidia ampere · NVIDIA: 550.54.14" (+ " · software"). */
export function describeAdapter(adapter: GpuAdapter): string {
  const kind = [adapter.vendor, adapter.architecture].filter(Boolean).join(" ") || "unknown vendor";
  return `${kind} · ${adapter.description || adapter.device || "no description"}${adapter.software ? " · software" : ""}`;
}

/**
 * Dawn writes an error when XDG_RUNTIME_DIR is unset (its Wayland/X probing); a private temp directory
 * satisfies it. The Vulkan loader reads VK_ICD_FILENAMES when an instance is created, so setting it here
 * before `create()` is enough.
 */
function prepareEnvironment(icd?: string): void {
  const runtimeDir = coreEnv().XDG_RUNTIME_DIR;
  if (!runtimeDir || !existsSync(runtimeDir)) {
    setEnv("XDG_RUNTIME_DIR", mkdtempSync(path.join(os.tmpdir(), "rlhf-xdg-")));
  }
  if (icd) setEnv("VK_ICD_FILENAMES", icd);
}

const require = createRequire(import.meta.url);

function webgpuModuleUrl(): string {
  // Name in a variable and the ignore comments: bundlers leave the native package to Node at run time.
  const pkg = "webgpu";
  return pathToFileURL(require.resolve(/* turbopackIgnore: true */ pkg)).href;
}

/** The child process's script: print the adapter Dawn picks as JSON, then exit. */
const PROBE_SCRIPT = `
const { create } = await import(process.argv[1]);
const gpu = create([]);
const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
const i = adapter && adapter.info;
process.stdout.write(JSON.stringify(i ? { vendor: i.vendor, architecture: i.architecture, device: i.device,
  description: i.description, isFallbackAdapter: i.isFallbackAdapter === true } : null));
process.exit(0);
`;

const PROBE_TIMEOUT_MS = 30_000;

/** Dawn's stderr, without blank lines and source locations, as one line. */
function dawnMessages(stderr: string): string {
  return stderr
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("at ") && !line.startsWith("- While"))
    .map((line) => line.replace(/^(Warning|error): /i, ""))
    .join("; ");
}

/**
 * Ask Dawn, in a child process, which adapter it would use. `icd` points the Vulkan loader at one driver
 * manifest (SwiftShader's, say). Never throws: a failure is the probe's `reason`.
 */
export async function probeWebgpuAdapter(icd?: string): Promise<AdapterProbe> {
  let moduleUrl: string;
  try {
    moduleUrl = webgpuModuleUrl();
  } catch (error) {
    return { reason: `the webgpu package is not installed (${(error as Error).message.split("\n")[0]})` };
  }
  prepareEnvironment();
  const env = childEnv(icd ? { VK_ICD_FILENAMES: icd } : {});
  return new Promise<AdapterProbe>((resolve) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", PROBE_SCRIPT, moduleUrl], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), PROBE_TIMEOUT_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve({ reason: `could not start the adapter probe (${error.message})` });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const said = dawnMessages(stderr);
      if (code !== 0) {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        resolve({ reason: `Dawn's adapter probe ${how}${said ? `: ${said}` : ""}` });
        return;
      }
      let found: (Omit<GpuAdapter, "software"> & { isFallbackAdapter: boolean }) | null;
      try {
        found = JSON.parse(stdout);
      } catch {
        resolve({ reason: `Dawn's adapter probe printed no answer${said ? `: ${said}` : ""}` });
        return;
      }
      if (!found) {
        resolve({ reason: `Dawn found no GPU adapter${said ? ` (Dawn: ${said})` : ""}` });
        return;
      }
      const { isFallbackAdapter, ...info } = found;
      const adapter: GpuAdapter = { ...info, software: isFallbackAdapter || isSoftware(info) };
      if (icd) adapter.icd = icd;
      resolve({ adapter });
    });
  });
}

/**
 * The adapter to use: Dawn's own choice when it is hardware (or `allowSoftware`), else — with
 * `allowSoftware` and no adapter at all — SwiftShader's, when Chromium ships it. Throws with the reason.
 */
export async function chooseWebgpuAdapter(allowSoftware: boolean): Promise<GpuAdapter> {
  const own = await probeWebgpuAdapter();
  if (own.adapter && (allowSoftware || !own.adapter.software)) return own.adapter;
  if (own.adapter) {
    throw new Error(
      `only a software adapter (${describeAdapter(own.adapter)}), which auto never picks: ask for --backend webgpu to use it`,
    );
  }
  const icd = allowSoftware && !coreEnv().VK_ICD_FILENAMES ? findSwiftShaderIcd() : undefined;
  if (!icd) throw new Error(own.reason ?? "Dawn found no GPU adapter");
  const swiftshader = await probeWebgpuAdapter(icd);
  if (swiftshader.adapter) return swiftshader.adapter;
  throw new Error(`${own.reason}; SwiftShader (${icd}) neither: ${swiftshader.reason}`);
}

/** The parts of WebGPU's GPUBuffer used here (no DOM types in this package). */
interface GpuBuffer {
  size: number;
  mapState: "unmapped" | "pending" | "mapped";
  mapAsync: (mode: number) => Promise<void>;
  getMappedRange: () => ArrayBuffer;
  unmap: () => void;
}

/** The parts of tfjs-backend-webgpu's WebGPUBackend used here (4.22). */
interface WebgpuBackendInternals {
  readSync: (dataId: object) => tf.backend_util.BackendValues;
  tensorMap: {
    get: (dataId: object) => { values?: unknown; dtype: tf.DataType; resource?: unknown } | undefined;
  };
  bufferManager: {
    acquireBuffer: (size: number, usage: number) => GpuBuffer;
    releaseBuffer: (buffer: GpuBuffer) => void;
  };
  device: { limits: { maxStorageBuffersPerShaderStage: number } };
  disposeData: (dataId: object) => boolean;
  commandEncoder: {
    copyBufferToBuffer: (a: GpuBuffer, ao: number, b: GpuBuffer, bo: number, n: number) => void;
  };
  ensureCommandEncoderReady: () => void;
  endComputePassEncoder: () => void;
  submitQueue: () => void;
  convertAndCacheOnCPU: (dataId: object, values: tf.backend_util.BackendValues) => void;
}

/** dawn.node's event-processing callbacks, scheduled with setImmediate and not run yet. */
const dawnTicks = new Set<() => void>();
/** > 0 while JavaScript is inside a call into Dawn (or one of its scheduled callbacks). */
let inDawn = 0;

/**
 * Note the callbacks Dawn schedules: every method of Dawn's classes marks the call, and the global
 * setImmediate records what is scheduled during one (everyone else's calls pass straight through).
 */
function hookDawnScheduling(globals: Record<string, unknown>): void {
  const real = globalThis.setImmediate;
  const hooked = ((fn: (...args: unknown[]) => void, ...args: unknown[]) => {
    if (inDawn === 0) return real(fn, ...args);
    const tick = () => {
      if (!dawnTicks.delete(tick)) return; // already run by a synchronous read
      inDawn += 1;
      try {
        fn(...args);
      } finally {
        inDawn -= 1;
      }
    };
    dawnTicks.add(tick);
    return real(tick);
  }) as typeof setImmediate;
  // Keep setImmediate's own properties (util.promisify's custom form).
  for (const key of Reflect.ownKeys(real)) {
    if (!(key in hooked))
      Object.defineProperty(hooked, key, Object.getOwnPropertyDescriptor(real, key) as PropertyDescriptor);
  }
  globalThis.setImmediate = hooked;
  for (const cls of Object.values(globals)) {
    const proto = typeof cls === "function" ? (cls as { prototype?: object }).prototype : undefined;
    if (!proto) continue;
    for (const name of Object.getOwnPropertyNames(proto)) {
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      const method = descriptor?.value;
      if (name === "constructor" || typeof method !== "function" || !descriptor?.writable) continue;
      Object.defineProperty(proto, name, {
        ...descriptor,
        value: function (this: unknown, ...args: unknown[]) {
          inDawn += 1;
          try {
            return method.apply(this, args);
          } finally {
            inDawn -= 1;
          }
        },
      });
    }
  }
}

const SYNC_READ_TIMEOUT_MS = 300_000;

/** Run Dawn's pending callbacks until `done()`; a short sleep between rounds leaves the core to the GPU driver. */
function processDawnEventsUntil(done: () => boolean, what: string): void {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + SYNC_READ_TIMEOUT_MS;
  while (!done()) {
    if (dawnTicks.size === 0) {
      throw new Error(`webgpu: ${what}: Dawn has no event processing scheduled, so the read cannot finish`);
    }
    for (const tick of [...dawnTicks]) tick();
    if (done()) return;
    if (Date.now() > deadline)
      throw new Error(`webgpu: ${what}: not done after ${SYNC_READ_TIMEOUT_MS / 1000} s`);
    Atomics.wait(sleeper, 0, 0, 0.05);
  }
}

let started: GpuAdapter | undefined;

/**
 * Start tfjs's webgpu backend on `adapter` (from `chooseWebgpuAdapter`) in this process. The in-process
 * Dawn instance asks for the adapter the same way the probe did, and the adapter it gets is checked
 * against the probe's.
 */
export async function startWebgpu(adapter: GpuAdapter): Promise<GpuAdapter> {
  if (started) {
    if (!(await tf.setBackend("webgpu"))) throw new Error("the webgpu backend did not start again");
    return started;
  }
  prepareEnvironment(adapter.icd);
  const { create, globals } = (await import(/* @vite-ignore */ webgpuModuleUrl())) as {
    create: (options: string[]) => { requestAdapter: (o?: object) => Promise<unknown> };
    globals: Record<string, unknown>;
  };
  // tfjs-backend-webgpu reads GPUBufferUsage, GPUMapMode... as globals and asks navigator.gpu for the adapter.
  Object.assign(globalThis, globals);
  hookDawnScheduling(globals);
  const gpu = create([]);
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav) Object.defineProperty(nav, "gpu", { value: gpu, configurable: true, writable: true });
  else Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true, writable: true });
  const backendPkg = "@tensorflow/tfjs-backend-webgpu";
  await import(/* @vite-ignore */ /* turbopackIgnore: true */ backendPkg);
  if (!(await tf.setBackend("webgpu"))) {
    throw new Error("Dawn found the adapter but tfjs's webgpu backend did not start (see the error above)");
  }
  await tf.ready();
  const backend = tf.backend() as unknown as WebgpuBackendInternals & {
    adapterInfo?: { vendor?: string; architecture?: string };
  };
  const got = backend.adapterInfo;
  if (got && (got.vendor !== adapter.vendor || got.architecture !== adapter.architecture)) {
    throw new Error(
      `Dawn gave this process another adapter (${got.vendor} ${got.architecture}) than it reported (${describeAdapter(adapter)})`,
    );
  }
  readSynchronously(backend);
  patchWebgpuKernels(backend);
  started = adapter;
  return adapter;
}

/**
 * Give the backend a synchronous read that works in Node (see the module comment): copy the tensor's
 * buffer into a staging buffer, map it, and process Dawn's events here until the map is done. Data still
 * on the CPU side (uploaded, not yet computed on) reads as before.
 */
function readSynchronously(backend: WebgpuBackendInternals): void {
  if (typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== "undefined") return;
  const stock = backend.readSync.bind(backend);
  const usage = (globalThis as unknown as { GPUBufferUsage: { COPY_DST: number; MAP_READ: number } })
    .GPUBufferUsage;
  const mapRead = (globalThis as unknown as { GPUMapMode: { READ: number } }).GPUMapMode.READ;
  backend.readSync = (dataId: object) => {
    const data = backend.tensorMap.get(dataId);
    if (
      !data ||
      data.values != null ||
      data.dtype === "string" ||
      data.dtype === "complex64" ||
      !data.resource
    ) {
      return stock(dataId);
    }
    const buffer = data.resource as GpuBuffer;
    const staging = backend.bufferManager.acquireBuffer(buffer.size, usage.COPY_DST | usage.MAP_READ);
    backend.ensureCommandEncoderReady();
    backend.endComputePassEncoder();
    backend.commandEncoder.copyBufferToBuffer(buffer, 0, staging, 0, buffer.size);
    backend.submitQueue();
    let failure: unknown;
    staging.mapAsync(mapRead).catch((error: unknown) => {
      failure = error;
    });
    processDawnEventsUntil(
      () => staging.mapState === "mapped" || failure !== undefined,
      `reading ${buffer.size} bytes synchronously`,
    );
    if (failure !== undefined) throw failure;
    const bytes = staging.getMappedRange().slice(0);
    staging.unmap();
    backend.bufferManager.releaseBuffer(staging);
    const values = tf.util.convertBackendValuesAndArrayBuffer(bytes, data.dtype);
    backend.convertAndCacheOnCPU(dataId, values);
    return values;
  };
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown };

/** Kernels replaced on webgpu (see the module comment); empty until the backend starts. */
export const patchedWebgpuKernels: string[] = [];

/** Replace tfjs-backend-webgpu's AddN by one that sums in groups the device can bind. Idempotent. */
function patchWebgpuKernels(backend: WebgpuBackendInternals): void {
  if (patchedWebgpuKernels.length > 0) return;
  const original = tf.getKernel("AddN", "webgpu");
  if (!original) return;
  const stock = original.kernelFunc as unknown as (args: KernelArgs) => tf.TensorInfo;
  // One storage buffer is the output.
  const maxInputs = Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1);
  const addN = (args: KernelArgs): tf.TensorInfo => {
    const inputs = args.inputs as unknown as tf.TensorInfo[];
    if (inputs.length <= maxInputs) return stock(args);
    const partials: tf.TensorInfo[] = [];
    for (let i = 0; i < inputs.length; i += maxInputs) {
      const group = inputs.slice(i, i + maxInputs);
      // A group of one is the stock kernel's identity (a new reference to the input), disposed below too.
      partials.push(stock({ ...args, inputs: group as unknown as tf.NamedTensorInfoMap }));
    }
    const total = addN({ ...args, inputs: partials as unknown as tf.NamedTensorInfoMap });
    for (const partial of partials) backend.disposeData(partial.dataId);
    return total;
  };
  tf.unregisterKernel("AddN", "webgpu");
  tf.registerKernel({ ...original, kernelFunc: addN as unknown as tf.KernelFunc });
  patchedWebgpuKernels.push("AddN");
}
