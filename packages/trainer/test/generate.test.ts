/**
 * Generation: the key/value cache against recomputing the whole sequence, left padding against one
 * prompt at a time, seeded sampling, eos handling, the returned log-probabilities against a forward
 * pass, and tensor memory. wasm backend.
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../src/backend";
import { chooseToken, GPT, type GPTConfig, generate, logProbsOf, mulberry32 } from "../src/model";

const config: GPTConfig = {
  vocabSize: 23,
  nPositions: 40,
  nEmbd: 16,
  nLayer: 2,
  nHead: 2,
  layerNormEpsilon: 1e-5,
  initializerRange: 0.4, // peaked distributions, so greedy choices are far from ties
};
const prompts = [[3, 9, 4], [7], [1, 2, 3, 4, 5, 6, 7], [20, 0]];
let model: GPT;

beforeAll(async () => {
  expect((await initBackend("wasm")).name).toBe("wasm");
  model = new GPT(config, { seed: 5 });
});
afterAll(() => model.dispose());

describe("generate", () => {
  it("gives the same tokens with and without the key/value cache (greedy and seeded sampling)", async () => {
    for (const sampling of [
      { greedy: true },
      { temperature: 1, seed: 3 },
      { temperature: 0.8, topK: 5, seed: 4 },
      { topP: 0.9, seed: 9 },
    ]) {
      const options = { maxNewTokens: 12, eosTokenId: 0, ...sampling };
      const cached = await generate(model, prompts, options);
      const recomputed = await generate(model, prompts, { ...options, useCache: false });
      expect(cached.tokens).toEqual(recomputed.tokens);
      cached.logProbs.forEach((row, i) => {
        row.forEach((lp, j) => {
          expect(lp).toBeCloseTo(recomputed.logProbs[i]?.[j] as number, 4);
        });
      });
    }
  });

  it("gives a left-padded prompt the tokens it gets alone", async () => {
    const batched = await generate(model, prompts, { maxNewTokens: 10, greedy: true });
    for (const [i, prompt] of prompts.entries()) {
      const alone = await generate(model, [prompt], { maxNewTokens: 10, greedy: true });
      expect(batched.tokens[i]).toEqual(alone.tokens[0]);
    }
  });

  it("is reproducible from its seed", async () => {
    const a = await generate(model, prompts, { maxNewTokens: 15, seed: 1 });
    const b = await generate(model, prompts, { maxNewTokens: 15, seed: 1 });
    const c = await generate(model, prompts, { maxNewTokens: 15, seed: 2 });
    expect(a).toEqual(b);
    expect(a.tokens).not.toEqual(c.tokens);
  });

  it("stops each row at eos and returns no padding", async () => {
    // find an eos that some rows emit and others do not
    const free = await generate(model, prompts, { maxNewTokens: 12, greedy: true });
    const eos = free.tokens[0]?.[2] as number;
    const stopped = await generate(model, prompts, {
      maxNewTokens: 12,
      greedy: true,
      eosTokenId: eos,
      padTokenId: 22,
    });
    stopped.tokens.forEach((row, i) => {
      const full = free.tokens[i] as number[];
      const cut = full.indexOf(eos);
      expect(row).toEqual(cut >= 0 ? full.slice(0, cut + 1) : full);
      expect(stopped.logProbs[i]?.length).toBe(row.length);
    });
    expect(stopped.tokens[0]?.length).toBe(3);
  });

  it("returns the log-probabilities a forward pass gives the sampled tokens", async () => {
    const temperature = 0.7;
    const out = await generate(model, prompts, { maxNewTokens: 8, temperature, seed: 11 });
    for (const [i, prompt] of prompts.entries()) {
      const tokens = out.tokens[i] as number[];
      const sequence = [...prompt, ...tokens];
      const expected = tf.tidy(() => {
        const ids = tf.tensor2d([sequence.slice(0, -1)], [1, sequence.length - 1], "int32");
        const logits = tf.div(model.forward(ids).logits as tf.Tensor, temperature);
        const targets = tf.tensor2d([sequence.slice(1)], [1, sequence.length - 1], "int32");
        return Array.from(logProbsOf(logits, targets).dataSync()).slice(prompt.length - 1);
      });
      out.logProbs[i]?.forEach((lp, j) => {
        expect(lp).toBeCloseTo(expected[j] as number, 4);
      });
    }
  });

  it("does not grow tf.memory().numTensors across calls", async () => {
    await generate(model, prompts, { maxNewTokens: 5, seed: 1 });
    const before = tf.memory().numTensors;
    await generate(model, prompts, { maxNewTokens: 9, seed: 2 });
    await generate(model, prompts, { maxNewTokens: 9, seed: 2, useCache: false });
    await generate(model, prompts, { maxNewTokens: 9, greedy: true, eosTokenId: 3 });
    expect(tf.memory().numTensors).toBe(before);
    // a PPO policy (value head) and a reward model (score head): their extra outputs are freed too
    const policy = new GPT(config, { seed: 6, valueHead: true, rewardHead: true });
    await generate(policy, prompts, { maxNewTokens: 2, seed: 1 }); // caches the LM head's transpose
    const withHeads = tf.memory().numTensors;
    await generate(policy, prompts, { maxNewTokens: 5, seed: 1 });
    await generate(policy, prompts, { maxNewTokens: 5, seed: 1, useCache: false });
    expect(tf.memory().numTensors).toBe(withHeads);
    policy.dispose();
  });

  it("rejects prompts that do not fit", async () => {
    await expect(generate(model, [[1], []], { maxNewTokens: 2 })).rejects.toThrow(/prompt 1 is empty/);
    await expect(generate(model, [new Array(35).fill(1)], { maxNewTokens: 10 })).rejects.toThrow(
      /exceeds the context of 40/,
    );
  });
});

describe("chooseToken", () => {
  const logits = Float32Array.from([0.5, 3, 1, 2.5, -1]);
  const sampling = { greedy: false, temperature: 1, topK: undefined, topP: undefined };

  it("picks the argmax when greedy and reports its log-probability", () => {
    const { token, logProb } = chooseToken(logits, 0, 5, { ...sampling, greedy: true }, Math.random);
    const lse = Math.log(Array.from(logits).reduce((a, z) => a + Math.exp(z), 0));
    expect(token).toBe(1);
    expect(logProb).toBeCloseTo(3 - lse, 10);
  });

  it("samples within top-k and top-p, with frequencies following the distribution", () => {
    const random = mulberry32(1);
    const counts = new Array<number>(5).fill(0);
    for (let i = 0; i < 4000; i++)
      counts[chooseToken(logits, 0, 5, { ...sampling, topK: 2 }, random).token]! += 1;
    expect(counts[0]! + counts[2]! + counts[4]!).toBe(0);
    const ratio = counts[1]! / counts[3]!; // exp(3 - 2.5) = 1.65
    expect(ratio).toBeGreaterThan(1.4);
    expect(ratio).toBeLessThan(1.9);
    const p = Array.from(logits).map((z) => Math.exp(z));
    const total = p.reduce((a, b) => a + b, 0);
    // top-p 0.6: token 1 alone has p = 0.52 < 0.6, so tokens {1, 3} form the nucleus
    expect((p[1] as number) / total).toBeLessThan(0.6);
    const nucleus = new Set<number>();
    for (let i = 0; i < 500; i++)
      nucleus.add(chooseToken(logits, 0, 5, { ...sampling, topP: 0.6 }, random).token);
    expect([...nucleus].sort()).toEqual([1, 3]);
    const all = new Set<number>();
    for (let i = 0; i < 2000; i++) all.add(chooseToken(logits, 0, 5, sampling, random).token);
    expect(all.size).toBe(5);
  });
});
