/**
 * Every metric key a trainer logs is in the metrics registry (`@rlhf/core/telemetry`, which generates
 * docs/reference/metrics.md), under a group its job kind writes. The keys are read from the trainers'
 * sources: slash-named string literals (`"objective/kl"`), keys built as `${prefix}name` (with every `"…/"`
 * prefix of the file), and the keys of the object literals passed to `telemetry.metric(s)`.
 */
import { readdirSync, readFileSync } from "node:fs";
import {
  type MetricWriter,
  matchesMetricKey,
  metricGroups,
  metricKeysOf,
  summaryKeysLikeMetrics,
} from "@rlhf/core/telemetry";
import { describe, expect, it } from "vitest";

const source = new URL("../src/", import.meta.url);
const files = [
  ...readdirSync(new URL("train/", source))
    .filter((f) => f.endsWith(".ts"))
    .map((f) => `train/${f}`),
  ...readdirSync(new URL("trainers/", source))
    .filter((f) => f.endsWith(".ts"))
    .map((f) => `trainers/${f}`),
];

/** The text between the brace at `open` and its match. */
function braced(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth += 1;
    if (text[i] === "}" && --depth === 0) return text.slice(open, i + 1);
  }
  return "";
}

/** Top-level keys of object literals: `key:`, `"key":`, shorthand `key,`. */
function objectKeys(literal: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (const line of literal.split("\n")) {
    if (depth === 1) {
      const match =
        /^\s*(?:"([^"]+)"|([A-Za-z_]\w*))\s*:/.exec(line) ?? /^\s*()([A-Za-z_]\w*),\s*$/.exec(line);
      if (match) keys.push(match[1] || match[2]!);
    }
    for (const c of line) depth += c === "{" ? 1 : c === "}" ? -1 : 0;
  }
  if (!literal.includes("\n")) {
    for (const m of literal.matchAll(/(?:"([^"]+)"|([A-Za-z_]\w*))\s*:/g)) keys.push(m[1] ?? m[2]!);
  }
  return keys;
}

function loggedMetricKeys(text: string): Set<string> {
  const keys = new Set<string>();
  for (const m of text.matchAll(/"([a-z_]+(?:\/[a-z_]+)+)"/g)) keys.add(m[1]!);
  const prefixes = ["", ...[...text.matchAll(/"([a-z_]+\/)"/g)].map((m) => m[1]!)];
  for (const m of text.matchAll(/`\$\{prefix\}([a-z_/]+)`/g)) for (const p of prefixes) keys.add(p + m[1]);
  for (const m of text.matchAll(/telemetry\.metric\("([^"]+)"/g)) keys.add(m[1]!);
  for (const m of text.matchAll(/telemetry\.metrics\(\s*\w+,\s*(\{|\w+)/g)) {
    let literal = "";
    if (m[1] === "{") literal = braced(text, m.index + m[0].length - 1);
    else {
      for (const assignment of text.matchAll(new RegExp(`\\b${m[1]}(?:: [^=]+)? = \\{`, "g")))
        literal += `${braced(text, assignment.index + assignment[0].length - 1)}\n`;
    }
    for (const key of objectKeys(literal)) keys.add(key);
  }
  return keys;
}

/** The keys a file logs, less the summary keys that only look like metric keys (the registry lists those too). */
const keysOf = (file: string) => {
  const summaryKeys = new Set<string>(summaryKeysLikeMetrics.map((s) => s.key));
  const keys = loggedMetricKeys(readFileSync(new URL(file, source), "utf8"));
  return [...keys].filter((key) => !summaryKeys.has(key));
};

describe("the metrics registry", () => {
  const registered = metricGroups.flatMap((group) => group.metrics.flatMap((metric) => [...metric.keys]));

  it("holds every key the trainers log", () => {
    const keys = new Set(files.flatMap(keysOf));
    expect(keys.has("objective/kl")).toBe(true);
    expect(keys.has("grad_norm")).toBe(true);
    expect(keys.has("eval/rewards/margins")).toBe(true);
    expect([...keys].filter((key) => !matchesMetricKey(registered, key)).sort()).toEqual([]);
  });

  it("holds each trainer's keys under a group of its kind", () => {
    const kinds: MetricWriter[] = ["pretrain", "sft", "reward", "dpo", "ppo", "grpo", "rloo", "generate"];
    for (const kind of kinds) {
      const own = metricKeysOf(kind);
      const missing = keysOf(`trainers/${kind}.ts`).filter((key) => !matchesMetricKey(own, key));
      expect(missing, kind).toEqual([]);
    }
  });
});
