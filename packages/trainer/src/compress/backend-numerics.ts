/** The numerics of a Node process's tfjs backend, for the compressed file's header (CLI, run facts, bench). */
import type { BackendInfo } from "../backend";
import { describeNumerics, type Numerics } from "./codec";

export function numericsOfBackend(info: BackendInfo): Numerics {
  return describeNumerics({
    backend: info.name,
    device: info.gpuName ? `${info.device} (${info.gpuName})` : info.device,
    kernels: info.patchedKernels,
    runtime: "node",
  });
}
