/**
 * The playground's Compress/Decompress box: the checkpoint's model as a lossless compressor in the
 * browser (@rlhf/trainer/browser's arithmetic coder), gzip beside it from the browser's CompressionStream.
 * Import it dynamically from client code, as browser-model.ts.
 */
import { describeNumerics, type Numerics } from "@rlhf/trainer/browser";
import * as tf from "@tensorflow/tfjs";

export {
  type CompressedHeader,
  compress,
  decompress,
  readHeader,
} from "@rlhf/trainer/browser";

/**
 * What computes the probabilities here: the tfjs backend with what changes its arithmetic (WASM's SIMD and
 * threads, the WebGL renderer), the tfjs version and "browser". A file decodes only where this is the same.
 */
export async function browserNumerics(): Promise<Numerics> {
  const backend = tf.getBackend();
  let device = "js";
  if (backend === "wasm") {
    const simd = (await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")) === true;
    const threads = (await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT")) === true;
    device = `wasm${simd ? ", SIMD" : ""}${threads ? ", threads" : ""}`;
  } else if (backend === "webgl") {
    const gl = document.createElement("canvas").getContext("webgl2");
    const debug = gl?.getExtension("WEBGL_debug_renderer_info");
    device = `webgl ${gl ? String(gl.getParameter(debug ? debug.UNMASKED_RENDERER_WEBGL : gl.RENDERER)) : "?"}`;
  }
  return describeNumerics({ backend, device, runtime: "browser" });
}

/** gzip of `bytes` by the browser (CompressionStream: zlib's default level, not -9). */
export async function gzipLength(bytes: Uint8Array): Promise<number> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}
