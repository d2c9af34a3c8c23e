/**
 * PPO, GRPO and RLOO with LoRA (real tfjs, real PostgreSQL): only the adapters (PPO: and its value head)
 * train, the base stays bit for bit the SFT model's, the reference is the same weights with the adapters
 * off (its log-probs equal the base's exactly, so the first iteration's KL is exactly 0), checkpoints are
 * PEFT adapters, an SFT LoRA adapter is merged into its base at load, tensors stay flat, and the launch
 * config refuses adapter dropout.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseJobConfig } from "@rlhf/core/configs";
import { checkpoints, runs } from "@rlhf/core/schema";
import * as tf from "@tensorflow/tfjs";
import { asc, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { loadCheckpoint, saveCheckpoint } from "../src/checkpoint";
import { readSafetensors } from "../src/checkpoint/safetensors";
import { executeRun } from "../src/jobs/execute";
import { addLora, type GPT, logProbsOf, withoutAdapters } from "../src/model";
import { onlineTestSetup } from "./fixtures/online";
import { runCutAndResumed } from "./fixtures/resume";

const online = onlineTestSetup("rl-lora");
const { policyDir, series } = online;
const lora = { r: 4, alpha: 8, targets: ["c_attn", "c_fc"] };
const reward = [{ function: "contains", params: { text: "e", perOccurrence: true } }];
/** A short GRPO/RLOO run with LoRA on two workers. */
const groupRun = (extra: Record<string, unknown>) => ({
  rewards: reward,
  lora,
  workers: 2,
  iterations: 3,
  promptsPerIteration: 2,
  numGenerations: 4,
  maxCompletionLength: 6,
  learningRate: 1e-2,
  checkpointEvery: 3,
  backend: "wasm",
  ...extra,
});

async function train(kind: "ppo" | "grpo" | "rloo", name: string, config: Record<string, unknown>) {
  const [row] = await online.t.db.insert(runs).values({ name, kind, config }).returning();
  const counts: number[] = [];
  const result = await executeRun(online.t, row!.id, {
    onProgress: (step) => {
      if (step >= 2) counts.push(tf.memory().numTensors);
    },
  });
  if (result.error) {
    const logs = await online.t.pool.query("select message from run_logs where run_id = $1", [row!.id]);
    throw new Error(`${result.error}\n${logs.rows.map((r) => r.message).join("\n")}`);
  }
  const saved = await online.t.db
    .select()
    .from(checkpoints)
    .where(eq(checkpoints.runId, row!.id))
    .orderBy(asc(checkpoints.step));
  const logs = await online.t.pool.query("select message from run_logs where run_id = $1", [row!.id]);
  return {
    id: row!.id,
    counts,
    final: saved.at(-1)!.path,
    log: logs.rows.map((r) => r.message as string).join("\n"),
  };
}

/** Every base parameter (no head) of two models, compared exactly. */
function expectSameBase(a: GPT, b: GPT): void {
  for (const [name, v] of a.params) {
    if (name.startsWith("v_head") || name.startsWith("score")) continue;
    expect(Array.from(v.dataSync()), name).toEqual(Array.from(b.param(name).dataSync()));
  }
}

/** Response log-probs of some fixed token rows under `model`. */
function logprobs(model: GPT): number[] {
  return tf.tidy(() => {
    const ids = tf.tensor2d(
      Array.from({ length: 2 * 12 }, (_, i) => (i * 7) % 50),
      [2, 12],
      "int32",
    );
    const { logits } = model.forward(ids, { logits: "all", returnHidden: false });
    return Array.from(
      logProbsOf(tf.slice(logits!, [0, 0, 0], [2, 11, -1]), tf.slice(ids, [0, 1], [2, 11])).dataSync(),
    );
  });
}

describe("online trainers with LoRA", () => {
  it("the reference (adapters off) gives exactly the base's log-probs, trained adapters or not", async () => {
    const policy = (await loadCheckpoint(policyDir)).model;
    const base = (await loadCheckpoint(policyDir, { trainable: false })).model;
    const adapters = addLora(policy, { ...lora, dropout: 0 }, { seed: 1 });
    for (const v of adapters.namedVariables().values())
      tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, 0.3, "float32", 2)));
    const reference = withoutAdapters(policy);
    expect(logprobs(reference)).toEqual(logprobs(base));
    expect(logprobs(policy)).not.toEqual(logprobs(base));
    reference.dispose(); // a view: disposing it leaves the policy intact
    expect(logprobs(policy)).not.toEqual(logprobs(base));
    policy.dispose();
    base.dispose();
  });

  it("PPO trains only the adapters and the value head, KL exactly 0 at the start, saves a PEFT adapter", async () => {
    const before = tf.memory().numTensors;
    const run = await train("ppo", "ppo-lora", {
      policy: policyDir,
      rewards: reward,
      lora,
      workers: 1,
      iterations: 3,
      rolloutBatchSize: 8,
      miniBatches: 2,
      ppoEpochs: 1,
      responseLength: 6,
      temperature: 1,
      learningRate: 1e-2,
      checkpointEvery: 3,
      backend: "wasm",
    });
    expect(new Set(run.counts).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    expect(run.log).toMatch(/LoRA r=4 alpha=8 on 2 modules \+ the value head/);
    // A fresh adapter (B = 0) is the identity: the policy's log-probs are the reference's, bit for bit.
    expect((await series(run.id, "objective/kl"))[0]).toBe(0);
    expect(existsSync(path.join(run.final, "adapter_config.json"))).toBe(true);
    expect(existsSync(path.join(run.final, "model.safetensors"))).toBe(false);
    const config = JSON.parse(readFileSync(path.join(run.final, "adapter_config.json"), "utf8"));
    expect(config.base_model_name_or_path).toBe(policyDir);
    const loaded = (await loadCheckpoint(run.final, { valueHead: true })).model;
    const sft = (await loadCheckpoint(policyDir)).model;
    expectSameBase(loaded, sft);
    const B = loaded.lora!.namedVariables().get("h.0.attn.c_attn.lora_B.weight")!;
    expect(Math.max(...Array.from(B.dataSync(), Math.abs))).toBeGreaterThan(0);
    const head = await readSafetensors(path.join(run.final, "value_head.safetensors"));
    expect(
      Math.max(...Array.from(head.tensors.get("v_head.weight")!.data as Float32Array, Math.abs)),
    ).toBeGreaterThan(0);
    loaded.dispose();
    sft.dispose();
  });

  it("a PPO run with LoRA resumed after a shutdown ends where an uninterrupted one does (adapters, value head, moments)", async () => {
    const config = {
      policy: policyDir,
      rewards: reward,
      lora,
      workers: 1,
      iterations: 4,
      rolloutBatchSize: 8,
      miniBatches: 2,
      ppoEpochs: 1,
      responseLength: 6,
      temperature: 1,
      learningRate: 1e-2,
      checkpointEvery: 2,
      backend: "wasm",
    };
    const whole = await train("ppo", "ppo-lora-whole", config);
    const cut = await runCutAndResumed(online.t, { name: "ppo-lora-cut", kind: "ppo", config, stopAt: 3 });
    for (const key of ["objective/scores", "objective/kl", "loss/value_avg", "loss/policy_avg"]) {
      const a = await series(whole.id, key);
      const b = await series(cut, key);
      expect(b).toHaveLength(4);
      for (const [i, value] of a.entries())
        expect(b[i], `${key} at iteration ${i + 1}`).toBeCloseTo(value, 4);
    }
  });

  it("GRPO from an SFT LoRA adapter: merged at load, the KL measured against the merged SFT model, adapters on two workers naming the run's base", async () => {
    // An SFT run's LoRA adapter (B ≠ 0) on the random policy.
    const sftDir = path.join(online.home, "sft-lora");
    const sft = (await loadCheckpoint(policyDir)).model;
    const adapters = addLora(sft, { ...lora, dropout: 0 }, { seed: 4, baseModel: policyDir });
    for (const v of adapters.namedVariables().values())
      tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, 0.2, "float32", 6)));
    await saveCheckpoint(sftDir, sft, (await loadCheckpoint(policyDir)).tokenizer);
    sft.dispose();

    const before = tf.memory().numTensors;
    const run = await train("grpo", "grpo-lora", groupRun({ policy: sftDir, beta: 0.04 }));
    expect(new Set(run.counts).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    expect(run.log).toMatch(/merged into its base/);
    expect(run.log).toMatch(/data parallel: 2 worker/);
    // The first update's policy is the merged SFT model with zero adapters: no KL to the reference.
    expect((await series(run.id, "kl"))[0]).toBeCloseTo(0, 6);
    const config = JSON.parse(readFileSync(path.join(run.final, "adapter_config.json"), "utf8"));
    const baseDir = config.base_model_name_or_path as string;
    expect(path.basename(baseDir)).toBe("base");
    const merged = (await loadCheckpoint(sftDir, { trainable: false })).model; // merges the SFT adapter
    const base = (await loadCheckpoint(baseDir)).model;
    expectSameBase(base, merged);
    const trained = (await loadCheckpoint(run.final)).model;
    expectSameBase(trained, merged);
    expect(trained.lora).toBeDefined();
    for (const m of [merged, base, trained]) m.dispose();
  });

  it("RLOO trains adapters on two workers, tensors flat", async () => {
    const before = tf.memory().numTensors;
    const run = await train("rloo", "rloo-lora", groupRun({ policy: policyDir }));
    expect(new Set(run.counts).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    const trained = (await loadCheckpoint(run.final)).model;
    const sft = (await loadCheckpoint(policyDir)).model;
    expectSameBase(trained, sft);
    trained.dispose();
    sft.dispose();
  });

  it("launch configs: lora and workers are accepted; adapter dropout is refused for PPO, GRPO and RLOO", () => {
    const configs = {
      ppo: { policy: "run:sft", rewards: reward },
      grpo: { policy: "run:sft", rewards: reward },
      rloo: { policy: "run:sft", rewards: reward },
    };
    for (const [kind, base] of Object.entries(configs) as ["ppo" | "grpo" | "rloo", object][]) {
      const parsed = parseJobConfig(kind, { ...base, lora: { r: 4 }, workers: 2 }) as {
        lora: { r: number; alpha: number; dropout: number; targets: string[] };
        workers: number;
      };
      expect(parsed.lora).toMatchObject({ r: 4, dropout: 0 });
      expect(parsed.workers).toBe(2);
      expect(() => parseJobConfig(kind, { ...base, lora: { r: 4, dropout: 0.1 } }), kind).toThrow(
        /must be 0/,
      );
      expect(() => parseJobConfig(kind, { ...base, workers: 0 }), kind).toThrow(/workers/);
    }
  });
});
