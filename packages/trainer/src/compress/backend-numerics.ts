/** The numerics of a Node process's tfjs backend, for the compressed file's header (CLI, run facts, bench). */
import { type BackendInfo, backendId } from "../backend";
import type { Numerics } from "./codec";

/**
 * The backend's stable id (backend, device or GPU adapter, tfjs version), its replaced kernels, what the
 * native kernels were built for when they are on (instructions, FMA, compiler, C library: two machines
 * with the same build compute the same bits), and Node. Off, the process's reason goes with it for messages.
 */
export function numericsOfBackend(info: BackendInfo): Numerics {
  const kernels = info.patchedKernels?.length ? info.patchedKernels.join("+") : "stock";
  const native = info.nativeKernels;
  const build = native?.active ? ` · native build ${native.target}` : "";
  const numerics: Numerics = {
    backend: info.name,
    id: `${backendId(info)} · kernels ${kernels}${build} · node`,
  };
  if (native && !native.active) numerics.nativeKernelsOff = native.reason;
  return numerics;
}
