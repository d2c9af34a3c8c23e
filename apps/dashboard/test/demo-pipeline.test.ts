/**
 * The dashboard's demo chain is the one `rlhf pipeline --demo` runs: same stage settings (the dashboard
 * keeps a copy of the trainer's `demoStages`, which it cannot import) and same inputs per stage.
 */
import { describe, expect, it } from "vitest";
import { demoPipelineSteps, demoStages } from "~/server/demo-pipeline";

// The trainer's module, by path: @rlhf/trainer is not a dependency of the dashboard (it would bring tfjs).
const trainerDemo = new URL("../../../packages/trainer/src/pipeline/demo.ts", import.meta.url).href;

describe("demo pipeline", () => {
  it("has the trainer's stage settings", async () => {
    const trainer = (await import(/* @vite-ignore */ trainerDemo)) as { demoStages: typeof demoStages };
    for (const quick of [false, true]) expect(demoStages(quick, 7)).toEqual(trainer.demoStages(quick, 7));
  });

  it("chains the stages by run:<key> references", () => {
    const steps = demoPipelineSteps({ quick: true });
    expect(steps.map((s) => [s.key, s.kind])).toEqual([
      ["pretrain", "pretrain"],
      ["sft", "sft"],
      ["generate", "generate"],
      ["reward", "reward"],
      ["ppo", "ppo"],
      ["grpo", "grpo"],
      ["grpo-oracle", "grpo"],
      ["rloo", "rloo"],
      ["dpo", "dpo"],
    ]);
    expect(steps.find((s) => s.key === "ppo")!.config).toMatchObject({
      policy: "run:sft",
      rewardModel: "run:reward",
    });
    expect(steps.find((s) => s.key === "grpo")!.config).toMatchObject({
      policy: "run:sft",
      rewards: [{ function: "reward_model", params: { checkpoint: "run:reward" } }, { function: "ends" }],
    });
  });
});
