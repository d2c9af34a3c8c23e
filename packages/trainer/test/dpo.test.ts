import { DEMO_DATASETS } from "@rlhf/core/demo";
import { runs } from "@rlhf/core/schema";
import type { TestDatabase } from "@rlhf/core/testing";
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { conversationBatch } from "../src/data";
import { executeRun } from "../src/jobs/execute";
import { GPT, gptConfig } from "../src/model";
import { sequenceLogProbs, sequenceLogProbValues } from "../src/rl/sequence-logprobs";
import { type DpoLossOptions, dpoLosses } from "../src/trainers/dpo";
import { preferenceTestSetup, tiny } from "./fixtures/preferences";

let t: TestDatabase;
const { sftDir, series, finalCheckpoint, expectResumeMatchesWhole } = preferenceTestSetup(
  { home: "rlhf-dpo-", tasks: 40, evalEvery: 5, seeds: { sentences: 13, tasks: 2 } },
  (ready) => {
    t = ready.t;
  },
);

const dpoConfig = (extra: Record<string, unknown> = {}) => ({
  policy: sftDir,
  datasets: [DEMO_DATASETS.preferences],
  epochs: 2,
  batchSize: 8,
  maxLength: 64,
  learningRate: 2e-3,
  warmupSteps: 2,
  weightDecay: 0,
  beta: 0.1,
  evalEvery: 10,
  evalBatches: 2,
  checkpointEvery: 100,
  backend: "wasm",
  ...extra,
});

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("DPO losses", () => {
  const logps = {
    policyChosen: [-10.5, -20, -7.25, -30],
    policyRejected: [-12, -18.5, -9, -29],
    refChosen: [-11, -19, -8, -30.5],
    refRejected: [-11.5, -19, -8.5, -28],
  };
  const logSigmoid = (x: number) => -Math.log1p(Math.exp(-x));
  /** The plain reference, per pair. */
  function reference(i: number, o: DpoLossOptions) {
    const chosen = logps.policyChosen[i]! - logps.refChosen[i]!;
    const rejected = logps.policyRejected[i]! - logps.refRejected[i]!;
    const delta = chosen - rejected;
    const loss =
      o.loss === "ipo"
        ? (delta - 1 / (2 * o.beta)) ** 2
        : -(1 - o.labelSmoothing) * logSigmoid(o.beta * delta) -
          o.labelSmoothing * logSigmoid(-o.beta * delta);
    return { loss, chosen: o.beta * chosen, rejected: o.beta * rejected };
  }

  for (const o of [
    { loss: "sigmoid", beta: 0.1, labelSmoothing: 0 },
    { loss: "sigmoid", beta: 0.5, labelSmoothing: 0.2 },
    { loss: "ipo", beta: 0.1, labelSmoothing: 0 },
    { loss: "ipo", beta: 2, labelSmoothing: 0 },
  ] as DpoLossOptions[]) {
    it(`${o.loss} (β=${o.beta}, ε=${o.labelSmoothing}) matches a plain JS reference`, () => {
      const got = tf.tidy(() => {
        const out = dpoLosses(
          {
            policyChosen: tf.tensor1d(logps.policyChosen),
            policyRejected: tf.tensor1d(logps.policyRejected),
            refChosen: tf.tensor1d(logps.refChosen),
            refRejected: tf.tensor1d(logps.refRejected),
          },
          o,
        );
        return [out.losses, out.chosenRewards, out.rejectedRewards].map((x) => Array.from(x.dataSync()));
      });
      for (let i = 0; i < 4; i++) {
        const want = reference(i, o);
        expect(got[0]![i]).toBeCloseTo(want.loss, 4);
        expect(got[1]![i]).toBeCloseTo(want.chosen, 5);
        expect(got[2]![i]).toBeCloseTo(want.rejected, 5);
      }
    });
  }

  it("at the reference (Δ = 0) the sigmoid loss is log 2 and IPO's is 1/(4β²)", () => {
    const zero = () => tf.tensor1d([-5, -6]);
    const [sigmoid, ipo] = tf.tidy(() =>
      (["sigmoid", "ipo"] as const).map((loss) =>
        Array.from(
          dpoLosses(
            { policyChosen: zero(), policyRejected: zero(), refChosen: zero(), refRejected: zero() },
            { loss, beta: 0.25, labelSmoothing: 0 },
          ).losses.dataSync(),
        ),
      ),
    );
    expect(sigmoid![0]).toBeCloseTo(Math.LN2, 5);
    expect(ipo![0]).toBeCloseTo(1 / (4 * 0.25 ** 2), 4);
  });
});

describe("sequence log-probs", () => {
  it("sum log p over the response tokens only, the same alone or padded, with or without gradients", () => {
    const model = new GPT(gptConfig("tiny", { ...tiny, vocabSize: 40 }), { seed: 6 });
    const a = { ids: [1, 5, 6, 2, 9, 10, 11, 0], responseStart: 4 };
    const b = { ids: [1, 7, 2, 12, 0], responseStart: 3 };
    // Reference: log-softmax of the unpadded sequence's logits, summed over targets ids[responseStart..].
    const logits = tf.tidy(() => {
      const out = model.forward(tf.tensor2d([a.ids.slice(0, -1)], undefined, "int32"), {
        returnHidden: false,
      });
      return out.logits!.arraySync()[0]!;
    });
    let want = 0;
    for (let target = a.responseStart; target < a.ids.length; target++) {
      const row = logits[target - 1]!;
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, z) => s + Math.exp(z - max), 0));
      want += row[a.ids[target]!]! - lse;
    }
    const padded = tf.tidy(() =>
      Array.from(sequenceLogProbs(model, conversationBatch([b, a], 3, true)).sum.dataSync()),
    );
    expect(padded[1]).toBeCloseTo(want, 4);
    const values = sequenceLogProbValues(model, [a, b], 3, 1);
    expect(values[0]).toBeCloseTo(want, 4);
    expect(values[1]).toBeCloseTo(padded[0]!, 4);
    model.dispose();
  });
});

describe("trainDpo", () => {
  it("raises the chosen-vs-rejected margin and accuracy, evaluates, samples, checkpoints, leaks no tensors", async () => {
    const before = tf.memory().numTensors;
    const [run] = await t.db
      .insert(runs)
      .values({ name: "dpo", kind: "dpo", config: dpoConfig() })
      .returning();
    const perStep: number[] = [];
    const result = await executeRun(t, run!.id, {
      // After the first evaluation (step 10, after its progress): it leaves the LM head's transposed table cached (one tensor), which
      // data-parallel training steps, computed in the workers, do not renew.
      onProgress: (step) => {
        if (step > 10) perStep.push(tf.memory().numTensors);
      },
    });
    expect(result.error).toBeUndefined();
    expect(result.status).toBe("succeeded");
    expect(tf.memory().numTensors).toBe(before);
    expect(perStep.length).toBeGreaterThan(2);
    expect(new Set(perStep).size).toBe(1);

    const margins = (await series(run!.id, "rewards/margins")).map((p) => p.value);
    const accuracies = (await series(run!.id, "rewards/accuracies")).map((p) => p.value);
    expect(margins.length).toBe(result.summary!.steps);
    expect(margins[0]).toBeCloseTo(0, 5); // step 1: the policy is the reference
    expect(mean(margins.slice(-3))).toBeGreaterThan(mean(margins.slice(0, 3)) + 0.05);
    expect(mean(accuracies.slice(-3))).toBeGreaterThan(0.8);
    expect(mean(accuracies.slice(-3))).toBeGreaterThan(mean(accuracies.slice(0, 3)));
    const loss = (await series(run!.id, "loss")).map((p) => p.value);
    expect(loss[0]).toBeCloseTo(Math.LN2, 4);
    expect(loss.at(-1)).toBeLessThan(loss[0]!);
    for (const key of [
      "rewards/chosen",
      "rewards/rejected",
      "logps/chosen",
      "logps/rejected",
      "eval/loss",
      "eval/rewards/accuracies",
      "eval/rewards/margins",
      "eval/logps/chosen",
      "lr",
      "grad_norm",
    ]) {
      expect((await series(run!.id, key)).length, key).toBeGreaterThan(0);
    }
    expect(result.summary!["eval/rewards/margins"]).toBeGreaterThan(0);
    const { rows } = await t.pool.query("select step, prompt, response from samples where run_id = $1", [
      run!.id,
    ]);
    expect(rows.length).toBeGreaterThan(0);

    const { config } = await finalCheckpoint(run!.id);
    expect(config.architectures).toEqual(["GPT2LMHeadModel"]);
  });

  it("trains with the IPO loss", async () => {
    const [run] = await t.db
      .insert(runs)
      .values({
        name: "ipo",
        kind: "dpo",
        config: dpoConfig({ loss: "ipo", epochs: 1, beta: 0.5, evalEvery: 100 }),
      })
      .returning();
    const result = await executeRun(t, run!.id);
    expect(result.status).toBe("succeeded");
    const loss = (await series(run!.id, "loss")).map((p) => p.value);
    expect(loss[0]).toBeCloseTo(1, 4); // (0 − 1/(2·0.5))² at the reference
    expect(mean(loss.slice(-3))).toBeLessThan(loss[0]!);
  });

  it("resumes after a shutdown and ends where an uninterrupted run ends", async () => {
    await expectResumeMatchesWhole(
      "dpo",
      "dpo",
      dpoConfig({ epochs: 1, checkpointEvery: 3, evalEvery: 100 }),
    );
  });
});
