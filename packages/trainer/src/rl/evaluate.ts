/**
 * Comparing policies the way the demo's oracle experiment does: sample each policy on the same held-out
 * prompts, score the samples with the oracle, and measure how far each policy moved from the reference
 * (the SFT model) as the KL between them on the policy's own samples.
 */
import { distinctN, oracleScore, vaderScore } from "@rlhf/core/demo";
import * as tf from "@tensorflow/tfjs";
import { conversationBatch } from "../data";
import { type GPT, generate, hashSeed, logProbsOf } from "../model";
import type { Tokenizer } from "../tokenizer";

export interface PolicyEvaluation {
  samples: number;
  /** Mean oracle (AFINN) score of the samples and its standard error. */
  oracleMean: number;
  oracleStderr: number;
  /** Mean over samples of Σ_t log π(y_t) − log π_ref(y_t): a Monte-Carlo estimate of KL(π‖π_ref) in nats. */
  klMean: number;
  klStderr: number;
  /**
   * A second judge the demo never trains on: VADER's mean compound score in [−1, 1] and its standard
   * error (null for Chinese samples, which VADER cannot read).
   */
  vaderMean: number | null;
  vaderStderr: number | null;
  /** distinct-2 of the samples (distinct word bigrams / bigrams): how varied the policy's writing is. */
  distinct2: number;
  /** Share of samples that ended with end-of-text. */
  endedShare: number;
  examples: { prompt: string; response: string; oracle: number; kl: number }[];
}

export function meanAndStderr(xs: number[]): { mean: number; stderr: number } {
  const n = xs.length;
  if (n === 0) return { mean: Number.NaN, stderr: Number.NaN };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, stderr: 0 };
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  return { mean, stderr: Math.sqrt(variance / n) };
}

/** Σ over response tokens of log p (at `temperature`) for chat conversations, in batches, no gradients. */
function responseLogProbSums(
  model: GPT,
  conversations: { ids: number[]; responseStart: number }[],
  padId: number,
  temperature: number,
): number[] {
  const sums: number[] = [];
  for (let i = 0; i < conversations.length; i += 16) {
    const batch = conversationBatch(conversations.slice(i, i + 16), padId, true);
    const rowSums = tf.tidy(() => {
      const shape: [number, number] = [batch.batchSize, batch.length];
      const x = tf.tensor2d(batch.x, shape, "int32");
      const y = tf.tensor2d(batch.y, shape, "int32");
      const mask = tf.tensor2d(batch.mask!, shape, "float32");
      const logits = tf.div(model.forward(x, { logits: "all", returnHidden: false }).logits!, temperature);
      return tf.sum(tf.mul(logProbsOf(logits, y), mask), 1).dataSync() as Float32Array;
    });
    sums.push(...rowSums);
  }
  return sums;
}

/** Sample `policy` `perPrompt` times on each prompt and measure oracle score and KL to `reference`. */
export async function evaluatePolicy(
  policy: GPT,
  reference: GPT,
  tokenizer: Tokenizer,
  prompts: string[],
  options: { perPrompt: number; maxNewTokens: number; temperature: number; seed: number },
): Promise<PolicyEvaluation> {
  const rows = prompts.flatMap((prompt) => Array.from({ length: options.perPrompt }, () => prompt));
  const conversations: { ids: number[]; responseStart: number }[] = [];
  const responses: string[] = [];
  let ended = 0;
  for (let i = 0; i < rows.length; i += 32) {
    const slice = rows.slice(i, i + 32);
    const promptIds = slice.map((p) => tokenizer.formatChat(p).ids);
    const { tokens } = await generate(policy, promptIds, {
      maxNewTokens: options.maxNewTokens,
      temperature: options.temperature,
      seed: hashSeed(options.seed, `eval/${i}`),
      eosTokenId: tokenizer.eosId,
      padTokenId: tokenizer.padId,
    });
    for (const [j, response] of tokens.entries()) {
      if (response.at(-1) === tokenizer.eosId) ended += 1;
      // A response is never empty here: an empty one is scored as the bare end token.
      const body = response.length > 0 ? response : [tokenizer.eosId];
      conversations.push({ ids: [...promptIds[j]!, ...body], responseStart: promptIds[j]!.length });
      responses.push(tokenizer.decode(response, { skipSpecial: true }));
    }
  }
  const policyLogp = responseLogProbSums(policy, conversations, tokenizer.padId, options.temperature);
  const refLogp = responseLogProbSums(reference, conversations, tokenizer.padId, options.temperature);
  const kls = policyLogp.map((lp, i) => lp - refLogp[i]!);
  const oracle = responses.map((r) => oracleScore(r));
  const o = meanAndStderr(oracle);
  const k = meanAndStderr(kls);
  const vader = responses.map((r) => vaderScore(r));
  const v = vader.every((x) => x !== null) ? meanAndStderr(vader as number[]) : undefined;
  return {
    samples: rows.length,
    oracleMean: o.mean,
    oracleStderr: o.stderr,
    klMean: k.mean,
    klStderr: k.stderr,
    vaderMean: v ? v.mean : null,
    vaderStderr: v ? v.stderr : null,
    distinct2: distinctN(responses, 2),
    endedShare: ended / rows.length,
    examples: rows
      .slice(0, 6)
      .map((prompt, i) => ({ prompt, response: responses[i]!, oracle: oracle[i]!, kl: kls[i]! })),
  };
}
