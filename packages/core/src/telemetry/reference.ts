/**
 * docs/reference/metrics.md, generated from the metrics registry (./metrics) so that the page cannot drift
 * from it (`pnpm docs:metrics` writes it; a test compares the committed page with this output).
 */
import { metricGroups, summaryKeysLikeMetrics } from "./metrics";

/** A Markdown table cell: pipes escaped. */
const cell = (text: string) => text.replace(/\|/g, "\\|");

export function renderMetricsReference(): string {
  const lines = [
    "# Metrics",
    "",
    "Generated from the metrics registry (`packages/core/src/telemetry/metrics.ts`) by `pnpm docs:metrics`; a test",
    "fails when this page and the registry disagree, and another (`packages/trainer/test/metrics-reference.test.ts`)",
    "reads the keys out of the trainers' sources and fails on one the registry lacks. Every metric key the",
    "trainers write, what it measures, and TRL's key for the same quantity where TRL logs one: a key named",
    "like TRL's means what it means there, so a curve reads the same here as in a TRL run.",
    "",
    "Each point is one value per (run, key, step) in the `metrics` table; the dashboard draws one chart per key,",
    "grouped by the part before the `/` ([dashboard.md](../dashboard.md)). For PPO the step is the iteration; for",
    "the others the optimiser step. Runs trained elsewhere and sent through the ingest endpoint can use any key",
    "([sending-metrics.md](../sending-metrics.md)).",
    "",
  ];
  for (const group of metricGroups) {
    const about = "about" in group ? group.about : undefined;
    lines.push(`## ${group.title}`, "", `Trainers: ${group.writers.map((w) => `\`${w}\``).join(", ")}.`);
    if (about) lines.push(about);
    lines.push("", "| key | meaning | TRL |", "|---|---|---|");
    for (const metric of group.metrics) {
      const keys = metric.keys.map((key) => `\`${key}\``).join(", ");
      const trl = "trl" in metric ? metric.trl : "";
      lines.push(`| ${keys} | ${cell(metric.meaning)} | ${cell(trl)} |`);
    }
    lines.push("");
  }
  lines.push(
    "## Run summaries",
    "",
    "Besides metrics, each trainer returns a summary stored on the run (shown on the run's page and by",
    "`rlhf runs show`). These of its keys look like metric keys:",
    "",
    ...summaryKeysLikeMetrics.map(({ key, writer, meaning }) => `- \`${key}\` (\`${writer}\`): ${meaning}`),
    "",
  );
  return lines.join("\n");
}
