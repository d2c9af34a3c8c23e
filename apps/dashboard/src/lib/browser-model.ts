/**
 * Running a checkpoint in the browser: the tfjs backend (WebGL, else WASM, else plain JS), the checkpoint's
 * three files downloaded with progress, and the model built from their bytes by @rlhf/trainer/browser.
 * Import it dynamically from client code: tfjs is large and has no business in the server render.
 */

import {
  decodeSafetensors,
  type GPT,
  modelFromCheckpointFiles,
  type Tokenizer,
  tokenizerFromJsonText,
} from "@rlhf/trainer/browser";
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { BROWSER_BACKENDS, type BrowserBackend } from "./playground";

/** Where the app serves tfjs-backend-wasm's binaries (copied from its dist/ at build time; never a CDN). */
export const WASM_PATH = "/tfjs-wasm/";

export interface BrowserBackendInfo {
  name: BrowserBackend;
  /** Why a better backend was passed over, e.g. a software-rendered WebGL. */
  note?: string;
}

let backendReady: Promise<BrowserBackendInfo> | undefined;

/** Renderers that draw WebGL on the CPU: there tfjs's WebGL backend is many times slower than WASM. */
const SOFTWARE_WEBGL = /swiftshader|llvmpipe|softpipe|software/i;

/** The WebGL renderer's name, when the browser has WebGL and tells it. */
function webglRenderer(): string | undefined {
  const gl = document.createElement("canvas").getContext("webgl2");
  if (!gl) return undefined;
  const debug = gl.getExtension("WEBGL_debug_renderer_info");
  const name = String(gl.getParameter(debug ? debug.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  gl.getExtension("WEBGL_lose_context")?.loseContext();
  return name;
}

/**
 * The first backend of `order` that starts; the same answer for the page's lifetime (another needs a
 * reload). Unless WebGL is the only one asked for, a software-rendered WebGL is passed over.
 */
export function initBrowserBackend(
  order: readonly BrowserBackend[] = BROWSER_BACKENDS,
): Promise<BrowserBackendInfo> {
  backendReady ??= (async () => {
    setWasmPaths(WASM_PATH);
    let note: string | undefined;
    for (const name of order) {
      if (name === "webgl" && order.length > 1) {
        const renderer = webglRenderer();
        if (renderer && SOFTWARE_WEBGL.test(renderer)) {
          note = `WebGL passed over: it is rendered in software here (${renderer})`;
          continue;
        }
      }
      try {
        if (await tf.setBackend(name)) {
          await tf.ready();
          return note ? { name, note } : { name };
        }
      } catch {
        // tf.setBackend throws for some failures (no WebGL context) and returns false for others.
      }
    }
    throw new Error(`no tfjs backend started in this browser (tried ${order.join(", ")})`);
  })();
  return backendReady;
}

export interface DownloadProgress {
  file: string;
  loaded: number;
  /** From content-length; undefined if the server did not say. */
  total: number | undefined;
}

/** A checkpoint file's bytes from the dashboard's file route, reporting progress as chunks arrive. */
export async function downloadCheckpointFile(
  checkpointId: string,
  file: "config.json" | "tokenizer.json" | "model.safetensors",
  onProgress: (progress: DownloadProgress) => void,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const url = `/api/checkpoints/${checkpointId}/${file}`;
  const response = await fetch(url, { signal });
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { error?: string } | null;
    throw new Error(`${url}: ${body?.error ?? `HTTP ${response.status}`}`);
  }
  const header = response.headers.get("content-length");
  const total = header === null ? undefined : Number(header);
  if (!response.body) throw new Error(`${url}: the response has no body`);
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  onProgress({ file, loaded, total });
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onProgress({ file, loaded, total });
  }
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

export interface BrowserCheckpoint {
  model: GPT;
  tokenizer: Tokenizer;
  /** Bytes downloaded for the three files. */
  bytes: number;
}

/** Downloads config.json, tokenizer.json and model.safetensors and builds the model on the active backend. */
export async function loadBrowserCheckpoint(
  checkpointId: string,
  onProgress: (progress: DownloadProgress) => void,
  signal?: AbortSignal,
): Promise<BrowserCheckpoint> {
  const source = `/api/checkpoints/${checkpointId}`;
  const text = new TextDecoder();
  const config = await downloadCheckpointFile(checkpointId, "config.json", onProgress, signal);
  const tokenizerJson = await downloadCheckpointFile(checkpointId, "tokenizer.json", onProgress, signal);
  const weights = await downloadCheckpointFile(checkpointId, "model.safetensors", onProgress, signal);
  let configJson: unknown;
  try {
    configJson = JSON.parse(text.decode(config));
  } catch (error) {
    throw new Error(`${source}/config.json: not valid JSON (${(error as Error).message})`);
  }
  const tokenizer = tokenizerFromJsonText(text.decode(tokenizerJson), { source: `${source}/tokenizer.json` });
  const model = modelFromCheckpointFiles(
    {
      config: configJson,
      tokenizer,
      weights: decodeSafetensors(weights, `${source}/model.safetensors`),
    },
    source,
    { trainable: false },
  );
  return { model, tokenizer, bytes: config.byteLength + tokenizerJson.byteLength + weights.byteLength };
}

/** Tensors alive on the active backend: the page shows it so a leak across generations is visible. */
export function liveTensors(): number {
  return tf.memory().numTensors;
}

export { complete, completionText } from "@rlhf/trainer/browser";
