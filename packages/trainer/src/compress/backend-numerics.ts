/** The numerics of a Node process's tfjs backend, for the compressed file's header (CLI, run facts, bench). */
import { type BackendInfo, backendId } from "../backend";
import type { Numerics } from "./codec";

/** The backend's stable id (backend, device or GPU adapter, tfjs version), its replaced kernels, and Node. */
export function numericsOfBackend(info: BackendInfo): Numerics {
  const kernels = info.patchedKernels?.length ? info.patchedKernels.join("+") : "stock";
  return { backend: info.name, id: `${backendId(info)} · kernels ${kernels} · node` };
}
