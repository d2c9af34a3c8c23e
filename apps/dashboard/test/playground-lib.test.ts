import { bytes } from "@rlhf/ui/format";
import { describe, expect, it } from "vitest";
import {
  completionSettingsSchema,
  DEFAULT_SETTINGS,
  firstDifference,
  tokensPerSecond,
} from "~/lib/playground";

describe("the playground's helpers", () => {
  it("firstDifference finds where two generations part", () => {
    expect(firstDifference([1, 2, 3], [1, 2, 3])).toBeNull();
    expect(firstDifference([], [])).toBeNull();
    expect(firstDifference([1, 2, 3], [1, 5, 3])).toBe(1);
    expect(firstDifference([1, 2], [1, 2, 3])).toBe(2); // one stopped earlier
    expect(firstDifference([4], [])).toBe(0);
  });

  it("tokensPerSecond is 0 before the first token", () => {
    expect(tokensPerSecond(0, 100)).toBe(0);
    expect(tokensPerSecond(5, 0)).toBe(0);
    expect(tokensPerSecond(30, 1500)).toBe(20);
  });

  it("bytes picks the unit", () => {
    expect(bytes(812)).toBe("812 B");
    expect(bytes(1434)).toBe("1.4 KiB");
    expect(bytes(179 * 1024)).toBe("179 KiB");
    expect(bytes(23.5 * 1024 * 1024)).toBe("24 MiB");
    expect(bytes(5 * 1024 ** 4)).toBe("5120 GiB");
  });

  it("the settings schema takes the defaults and refuses what cannot be generated", () => {
    expect(completionSettingsSchema.parse(DEFAULT_SETTINGS)).toEqual(DEFAULT_SETTINGS);
    for (const bad of [{ maxNewTokens: 0 }, { temperature: -1 }, { topP: 0 }, { topK: 1.5 }, { seed: -1 }]) {
      expect(completionSettingsSchema.safeParse({ ...DEFAULT_SETTINGS, ...bad }).success).toBe(false);
    }
  });
});
