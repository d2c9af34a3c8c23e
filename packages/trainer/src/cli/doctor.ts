/**
 * `rlhf doctor`: which tfjs backend `auto` picks on this machine and why — each better backend tried, with
 * the reason it was passed over — and the WebGPU adapter Dawn sees (SwiftShader's too, when Chromium ships
 * it: used only with --backend webgpu). What to install for each path: docs/scaling-out.md, "GPU workers".
 */
import os from "node:os";
import { coreEnv } from "@rlhf/core/env";
import * as tf from "@tensorflow/tfjs";
import { AUTO_ORDER, type BackendInfo, describeBackend, initBackend } from "../backend";
import {
  type AdapterProbe,
  describeAdapter,
  findSwiftShaderIcd,
  probeWebgpuAdapter,
} from "../backend-webgpu";

export interface DoctorReport {
  platform: string;
  node: string;
  tfjs: string;
  /** What `auto` picked, or why nothing could start. */
  auto: { picked?: BackendInfo; error?: string };
  /** Each backend in `auto`'s order: picked, passed over (with the reason), or not tried. */
  tried: { name: string; outcome: "picked" | "passed over" | "not tried"; reason?: string }[];
  /** Dawn's own adapter, and SwiftShader's when its Vulkan driver is installed. */
  webgpu: { dawn: AdapterProbe; swiftshader?: AdapterProbe & { icd: string } };
}

export async function doctorReport(): Promise<DoctorReport> {
  const report: DoctorReport = {
    platform: `${os.platform()} ${os.arch()}, ${os.cpus().length} cores`,
    node: process.version,
    tfjs: tf.version.tfjs,
    auto: {},
    tried: [],
    webgpu: { dawn: await probeWebgpuAdapter() },
  };
  const icd = coreEnv().VK_ICD_FILENAMES ? undefined : findSwiftShaderIcd();
  if (icd) report.webgpu.swiftshader = { icd, ...(await probeWebgpuAdapter(icd)) };
  try {
    report.auto.picked = await initBackend("auto");
  } catch (error) {
    report.auto.error = (error as Error).message;
  }
  const passedOver = new Map(
    (report.auto.picked?.passedOver ?? []).map((p) => [p.name as string, p.reason] as const),
  );
  let reached = false;
  for (const name of AUTO_ORDER) {
    if (report.auto.picked?.name === name) {
      report.tried.push({ name, outcome: "picked" });
      reached = true;
    } else if (!reached && passedOver.has(name)) {
      report.tried.push({ name, outcome: "passed over", reason: passedOver.get(name) });
    } else {
      report.tried.push({ name, outcome: "not tried" });
    }
  }
  return report;
}

function adapterLine(probe: AdapterProbe): string {
  return probe.adapter ? describeAdapter(probe.adapter) : `none — ${probe.reason}`;
}

export async function doctorCommand(options: { json?: boolean }): Promise<void> {
  const report = await doctorReport();
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const lines = [
    `${report.platform} · Node ${report.node} · tfjs ${report.tfjs}`,
    "",
    report.auto.picked
      ? `auto picks: ${describeBackend(report.auto.picked)}`
      : `auto picks nothing: ${report.auto.error}`,
    ...report.tried.map(
      (t, i) => `  ${i + 1}. ${t.name.padEnd(10)} ${t.outcome}${t.reason ? `: ${t.reason}` : ""}`,
    ),
    "",
    `WebGPU adapter (Dawn): ${adapterLine(report.webgpu.dawn)}`,
  ];
  if (report.webgpu.swiftshader) {
    lines.push(
      `WebGPU adapter (SwiftShader, ${report.webgpu.swiftshader.icd}): ${adapterLine(report.webgpu.swiftshader)}`,
      "  a software adapter: --backend webgpu uses it when Dawn finds no GPU; auto never does",
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}
