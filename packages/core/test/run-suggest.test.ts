/** A run reference that matches nothing names the closest existing run (the quick demo's names, say). */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../src/db/testing";
import { closestName, editDistance, getRun, launchRun } from "../src/queue";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => t?.drop());

describe("did you mean", () => {
  it("edit distance is Levenshtein's", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("demo-sft", "demo-sft")).toBe(0);
  });

  it("picks a near spelling, or a name holding every word typed; nothing when nothing is close", () => {
    const names = ["demo-quick-pretrain", "demo-quick-sft", "demo-quick-ppo", "my-reward"];
    expect(closestName("demo-sft", names)).toBe("demo-quick-sft");
    expect(closestName("run:ppo-demo", names)).toBe("demo-quick-ppo");
    expect(closestName("my-rewrd", names)).toBe("my-reward");
    expect(closestName("gpt2-large", names)).toBeUndefined();
  });

  it("getRun's and launch's errors suggest the closest existing run", async () => {
    await launchRun(t, { kind: "pretrain", config: { maxSteps: 5 }, name: "demo-quick-sft" });
    await expect(getRun(t.db, "demo-sft")).rejects.toThrow(
      'no run with id or name "demo-sft" (did you mean demo-quick-sft?)',
    );
    await expect(
      launchRun(t, { kind: "sft", config: { init: "run:demo-sft" }, name: "child" }),
    ).rejects.toThrow(/run:demo-sft matches no run .*\(did you mean run:demo-quick-sft\?\)/);
  });
});
