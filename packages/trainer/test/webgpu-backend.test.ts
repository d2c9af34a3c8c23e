/**
 * The backend choice with webgpu in it: `auto` passes over a software adapter (and says why), an explicit
 * `webgpu` takes one and records the adapter, and `rlhf doctor` reports each backend auto tried.
 */
import { describe, expect, it } from "vitest";
import { AUTO_ORDER, backendId, describeDevice, initBackend } from "../src/backend";
import { probeWebgpuAdapter } from "../src/backend-webgpu";
import { doctorReport } from "../src/cli/doctor";
import { loadServedModel, startServer } from "../src/serve";
import { tinyServed } from "./fixtures/tiny-served";
import { webgpuSkipReason } from "./fixtures/webgpu";

const skip = await webgpuSkipReason();

describe("rlhf doctor", () => {
  it("reports each backend auto tries, the one it picks, and why it passed over the ones before", async () => {
    const report = await doctorReport();
    expect(report.tried.map((t) => t.name)).toEqual([...AUTO_ORDER]);
    const picked = report.tried.findIndex((t) => t.outcome === "picked");
    expect(picked).toBeGreaterThanOrEqual(0);
    expect(report.auto.picked?.name).toBe(AUTO_ORDER[picked]);
    for (const before of report.tried.slice(0, picked)) {
      expect(before.outcome).toBe("passed over");
      expect(before.reason?.length).toBeGreaterThan(10);
    }
    for (const after of report.tried.slice(picked + 1)) expect(after.outcome).toBe("not tried");
    // auto takes webgpu only on a hardware adapter
    const dawn = report.webgpu.dawn.adapter;
    if (report.auto.picked?.name === "webgpu") expect(report.auto.picked.adapter?.software).toBe(false);
    if (!dawn || dawn.software) expect(report.auto.picked?.name).not.toBe("webgpu");
    if (report.webgpu.swiftshader?.adapter) expect(report.webgpu.swiftshader.adapter.software).toBe(true);
  });
});

describe.skipIf(skip)(`an explicit webgpu${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("takes a software adapter when asked, and records the adapter on the backend info", async () => {
    const info = await initBackend("webgpu");
    expect(info.name).toBe("webgpu");
    const adapter = info.adapter;
    if (!adapter) throw new Error("no adapter recorded");
    expect(adapter.vendor.length + adapter.architecture.length).toBeGreaterThan(0);
    expect(adapter.description).toBeTruthy();
    expect(info.device).toBe(adapter.software ? "software gpu (webgpu)" : "gpu (webgpu)");
    expect(describeDevice(info)).toContain(adapter.description);
    if (adapter.software) expect(describeDevice(info)).toMatch(/software$/);
    expect(backendId(info)).toBe(
      `webgpu:${adapter.vendor}/${adapter.architecture}/${adapter.description}:tfjs-4.22.0`,
    );
    // asking again (or auto, once webgpu is active) keeps it
    expect(await initBackend("auto")).toBe(info);
  });

  it("says why when the driver it is pointed at does not exist", async () => {
    const probe = await probeWebgpuAdapter("/nonexistent/vk_icd.json");
    expect(probe.adapter).toBeUndefined();
    expect(probe.reason).toMatch(/Dawn found no GPU adapter/);
  });
});

describe.skipIf(skip)(`rlhf serve on webgpu${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("answers a greedy chat completion with the same text as on wasm", async () => {
    const tiny = await tinyServed("tiny-webgpu", 64);
    const ask = async (backend: "wasm" | "webgpu") => {
      const served =
        backend === "wasm" ? tiny.served : await loadServedModel(tiny.checkpointDir, { backend });
      expect(served.backend.name).toBe(backend);
      const server = await startServer(served, { port: 0 });
      try {
        const response = await fetch(`${server.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            model: "tiny-webgpu",
            messages: [{ role: "user", content: "Tell me about the park." }],
            max_tokens: 8,
            temperature: 0,
          }),
        });
        expect(response.status).toBe(200);
        const body = (await response.json()) as { choices: { message: { content: string } }[] };
        return body.choices[0]?.message.content;
      } finally {
        await server.close();
        if (served !== tiny.served) served.model.dispose();
      }
    };
    try {
      const onWasm = await ask("wasm");
      const onGpu = await ask("webgpu");
      expect(onWasm?.length).toBeGreaterThan(0);
      expect(onGpu).toBe(onWasm);
    } finally {
      tiny.dispose();
    }
  });
});
