/**
 * `rlhf train` refuses a config key its schema does not know (from --set or a --config file), naming the
 * closest known one, before it records a run: a typo must not train with the default.
 */
import { describe, expect, it } from "vitest";
import { runCli } from "./fixtures/processes";

describe("rlhf train", () => {
  it("refuses an unknown config key with the closest known one", async () => {
    // No database is reached: the config is checked first.
    const typo = await runCli("postgres://127.0.0.1:1/none", ["train", "pretrain", "--set", "maxStep=3"]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain('maxStep: unknown key "maxStep"; did you mean "maxSteps"?');
    const nested = await runCli("postgres://127.0.0.1:1/none", [
      "train",
      "pretrain",
      "--set",
      "model.nLayers=2",
    ]);
    expect(nested.stderr).toContain('model.nLayers: unknown key "nLayers"; did you mean "nLayer"?');
  });
});
