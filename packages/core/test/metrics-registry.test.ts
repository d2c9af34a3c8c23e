/**
 * The metrics registry (src/telemetry/metrics.ts) and docs/reference/metrics.md, generated from it.
 * That every key a trainer logs is in the registry is packages/trainer/test/metrics-reference.test.ts.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { jobConfigSchemas } from "../src/configs";
import { matchesMetricKey, metricGroups, metricKeysOf } from "../src/telemetry";
import { renderMetricsReference } from "../src/telemetry/reference";

describe("metrics registry", () => {
  it("names job kinds as writers and no key twice in a group", () => {
    for (const group of metricGroups) {
      for (const writer of group.writers) expect(Object.keys(jobConfigSchemas)).toContain(writer);
      const keys = group.metrics.flatMap((m) => [...m.keys]);
      expect(new Set(keys).size, group.title).toBe(keys.length);
    }
  });

  it("gives each kind the keys of its groups; <name> matches one path segment", () => {
    expect(metricKeysOf("ppo").has("val/ratio_var")).toBe(true);
    expect(metricKeysOf("ppo").has("grad_norm")).toBe(true);
    expect(metricKeysOf("dpo").has("val/ratio_var")).toBe(false);
    const grpo = metricKeysOf("grpo");
    expect(matchesMetricKey(grpo, "rewards/length_penalty/mean")).toBe(true);
    expect(matchesMetricKey(grpo, "rewards/a/b/mean")).toBe(false);
    expect(matchesMetricKey(grpo, "rewards/x/median")).toBe(false);
  });
});

describe("docs/reference/metrics.md", () => {
  it("is what the registry generates (run `pnpm docs:metrics` after changing it)", () => {
    const committed = readFileSync(new URL("../../../docs/reference/metrics.md", import.meta.url), "utf8");
    expect(committed).toBe(renderMetricsReference());
  });
});
