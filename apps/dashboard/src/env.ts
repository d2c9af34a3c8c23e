/** The dashboard's environment, validated once at start-up: the only place that reads `process.env`. */
import { parseEnv } from "@rlhf/ui/env";

export const env = parseEnv("dashboard");
