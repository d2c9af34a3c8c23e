// Writes docs/reference/metrics.md from the metrics registry (`pnpm docs:metrics`).
import { renderMetricsReference } from "../telemetry/reference";
import { writeReferencePage } from "./reference-page";

writeReferencePage("metrics.md", renderMetricsReference());
