/**
 * Whether a compressed file's numerics are this process's, and when not, what to do. The native kernels
 * (Node's wasm backend, native-kernels.ts) get their own messages: a file that differs only in them says
 * whether to turn them off or on, or which machine's build it needs. No Node imports (the playground too).
 */
import type { Numerics } from "./codec";

/** A numerics id taken apart: the native kernels (on or off, vector width, build) and everything else. */
interface NativeParts {
  /** The id without any trace of the native kernels: equal for two processes that differ only in them. */
  rest: string;
  native: boolean;
  /** "512-bit", from the device. */
  width?: string;
  /** What the addon was built for ("x86-64 avx512f fma gcc-12.2.0 glibc-2.36 r1"); absent in older files. */
  build?: string;
}

const BUILD = / · native build ([^·]+?)(?= · |$)/;
const WIDTH = /, native matmul (\d+-bit)\)/;

function nativeParts(id: string): NativeParts {
  const parts: NativeParts = {
    rest: id
      .replace(WIDTH, ")")
      .replace(BUILD, "")
      .replace(/\+native:\S+/, "")
      .replace(/ kernels native:\S+/, " kernels stock"),
    native: /[+ ]native:\S/.test(id),
  };
  const width = WIDTH.exec(id)?.[1];
  const build = BUILD.exec(id)?.[1];
  if (width) parts.width = width;
  if (build) parts.build = build;
  return parts;
}

/** Whether a file of these numerics ran the native kernels: `rlhf decompress` sets the process up to match. */
export function usesNativeKernels(numericsId: string): boolean {
  return nativeParts(numericsId).native;
}

/**
 * Undefined when `file` decodes with `here`'s numerics, else the refusal: why the bits could differ and
 * what to do. A file from before builds were recorded, equal in everything else (the same vector width
 * included), is decoded: the original's SHA-256 decides, as it does for every file.
 */
export function numericsRefusal(
  source: string,
  file: { numerics: string; backend: string },
  here: Numerics,
): string | undefined {
  if (file.numerics === here.id) return undefined;
  const f = nativeParts(file.numerics);
  const h = nativeParts(here.id);
  const wrongBytes = "which would decode wrong bytes";
  if (f.rest !== h.rest || (f.native && h.native && f.build && f.build === h.build)) {
    return (
      `${source} was compressed on "${file.numerics}"; this process computes on "${here.id}", ` +
      `whose last bits can differ, ${wrongBytes}. Decompress it on the same backend ` +
      `(rlhf decompress --backend ${file.backend}).`
    );
  }
  if (!f.native) {
    return (
      `${source} was compressed with the wasm backend's own kernels (native kernels off); this process runs ` +
      `the native kernels (built for "${h.build ?? "?"}"), whose sums differ in the last bits, ${wrongBytes}. ` +
      "Decompress it with the native kernels off: RLHF_NATIVE_KERNELS=0 (rlhf decompress turns them off by " +
      'itself for such a file; in code, initBackend("wasm", { nativeKernels: false })).'
    );
  }
  const built = f.build ? `built for "${f.build}"` : `${f.width ?? "?"} vectors, before builds were recorded`;
  const there = f.build
    ? `on a machine whose native kernels are built for "${f.build}" (the same vector instructions, FMA, compiler and C library)`
    : "on the machine that compressed it";
  if (!h.native) {
    const why = here.nativeKernelsOff ?? "off";
    const fix =
      why === "RLHF_NATIVE_KERNELS=0"
        ? `Decompress it with RLHF_NATIVE_KERNELS unset, ${there}`
        : why === "turned off by the caller"
          ? `Decompress it with the native kernels on (initBackend("wasm", { nativeKernels: true })), ${there}`
          : `Decompress it where they build (g++ and Node's headers), ${there}`;
    return (
      `${source} was compressed with the native kernels (${built}); this process has them off (${why}), ` +
      `and the wasm backend's own kernels sum differently in the last bits, ${wrongBytes}. ${fix}.`
    );
  }
  if (!f.build && here.id.replace(BUILD, "") === file.numerics) return undefined;
  return (
    `${source} was compressed with the native kernels ${built}; this machine's are built for ` +
    `"${h.build ?? "?"}" (${h.width ?? "?"} vectors), whose sums can differ in the last bits, ${wrongBytes}. ` +
    `Decompress it ${there}.`
  );
}
