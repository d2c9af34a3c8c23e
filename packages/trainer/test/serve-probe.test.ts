/**
 * `rlhf serve` probed with every kind of bad request in ./serve-probes.ts: each must get its status and
 * OpenAI-shaped error naming the field, and the server must still answer a good request afterwards. The
 * list in docs/reliability.md is checked against the same table.
 */
import { describeFailures, probeDocDrift, runProbes } from "@rlhf/core/testing/probes";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../src/serve";
import { type TinyServed, tinyServed } from "./fixtures/tiny-served";
import { keyedServeProbes, serveProbes } from "./serve-probes";

let tiny: TinyServed;
let open: RunningServer;
let keyed: RunningServer;

beforeAll(async () => {
  tiny = await tinyServed("tiny-policy", 96);
  open = await startServer(tiny.served, { port: 0, maxBodyBytes: 64 * 1024 });
  keyed = await startServer(tiny.served, { port: 0, apiKey: "sk-probe-key-0123456789" });
});

afterAll(async () => {
  await open?.close();
  await keyed?.close();
  tiny?.dispose();
});

describe("rlhf serve under bad input", () => {
  it("answers every kind of bad request with its status and the field it names", async () => {
    const failed = [
      ...(await runProbes(open.url, serveProbes)),
      ...(await runProbes(keyed.url, keyedServeProbes)),
    ];
    expect(failed, describeFailures(failed)).toEqual([]);
    // Still serving afterwards.
    const good = await fetch(`${open.url}/v1/completions`, {
      method: "POST",
      body: JSON.stringify({ prompt: "Apples are", max_tokens: 2, seed: 1 }),
    });
    expect(good.status).toBe(200);
    // The runner itself reports a wrong status, a missing word and a forbidden one.
    const wrong = await runProbes(open.url, [
      { kind: "w1", path: "/v1/models", status: 404, expect: "" },
      { kind: "w2", path: "/v1/models", status: 200, says: /no-such-word/, expect: "" },
      { kind: "w3", path: "/v1/models", status: 200, never: /tiny-policy/, expect: "" },
    ]);
    expect(wrong.map((r) => r.probe.kind).sort()).toEqual(["w1", "w2", "w3"]);
  });

  it("is listed in docs/reliability.md as the table says", () => {
    expect(probeDocDrift("serve", [...serveProbes, ...keyedServeProbes])).toBeUndefined();
  });
});
