/**
 * DPO (Rafailov et al. 2023) — the offline alternative to reward model + PPO: the policy learns the
 * preferences directly, with the SFT model as the frozen reference. With
 *   Δ = (log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r))
 * the loss is −(1−ε) log σ(βΔ) − ε log σ(−βΔ) (sigmoid; ε = label smoothing, conservative DPO) or
 * (Δ − 1/(2β))² (IPO, Azar et al. 2023, on per-token mean log-probs as TRL computes it). The
 * reference's log-probs are computed once, before training (TRL's precompute_ref_log_probs), and the
 * reference is freed. Metrics follow TRL: rewards/chosen = β(log π(c) − log π_ref(c)), and so on.
 */
import type { DpoConfig } from "@rlhf/core/configs";
import {
  describeRankingSources,
  loadRankingGroups,
  type PreferenceSplit,
  type RankingGroup,
  splitByTask,
} from "@rlhf/core/preferences";
import * as tf from "@tensorflow/tfjs";
import { loadCheckpoint } from "../checkpoint";
import { type Conversation, conversationBatch } from "../data";
import { type JobContext, JobInputError, type RunSummary } from "../train/context";
import { addLora, type GPT, generate } from "../model";
import { responseTokenCount, sequenceLogProbs, sequenceLogProbValues } from "../rl/sequence-logprobs";
import type { Tokenizer } from "../tokenizer";
import { lossAndGradientsByName } from "../train/gradients";
import { runTrainingLoop, supervisedStep } from "../train/loop";
import { checkPairwiseBatchMemory } from "../train/pairwise-memory";

/** Prompts the policy answers at each evaluation, and how long the answers may be. */
const SAMPLE_PROMPTS = 3;
const SAMPLE_MAX_TOKENS = 32;

/** One preference pair, tokenised, with the reference's log-probs filled in before training. */
export interface DpoPair {
  taskId: string;
  split: PreferenceSplit;
  prompt: string;
  chosen: Conversation;
  rejected: Conversation;
  refChosen: number;
  refRejected: number;
}

export interface DpoLossOptions {
  loss: "sigmoid" | "ipo";
  beta: number;
  labelSmoothing: number;
}

/**
 * Per-pair DPO losses and implicit rewards from policy and reference log-probs (each [B]):
 * sigmoid −(1−ε) log σ(βΔ) − ε log σ(−βΔ) (−log σ(x) = softplus(−x)), or IPO (Δ − 1/(2β))².
 */
export function dpoLosses(
  logps: {
    policyChosen: tf.Tensor1D;
    policyRejected: tf.Tensor1D;
    refChosen: tf.Tensor1D;
    refRejected: tf.Tensor1D;
  },
  o: DpoLossOptions,
): { losses: tf.Tensor1D; chosenRewards: tf.Tensor1D; rejectedRewards: tf.Tensor1D } {
  return tf.tidy(() => {
    const chosenRatio = tf.sub(logps.policyChosen, logps.refChosen); // log π(c)/π_ref(c)
    const rejectedRatio = tf.sub(logps.policyRejected, logps.refRejected);
    const delta = tf.sub(chosenRatio, rejectedRatio); // Δ
    let losses: tf.Tensor;
    if (o.loss === "ipo") {
      losses = tf.square(tf.sub(delta, 1 / (2 * o.beta)));
    } else {
      const z = tf.mul(delta, o.beta);
      losses = tf.mul(tf.softplus(tf.neg(z)), 1 - o.labelSmoothing);
      if (o.labelSmoothing > 0) losses = tf.add(losses, tf.mul(tf.softplus(z), o.labelSmoothing));
    }
    return {
      losses: losses as tf.Tensor1D,
      chosenRewards: tf.mul(chosenRatio, o.beta) as tf.Tensor1D,
      rejectedRewards: tf.mul(rejectedRatio, o.beta) as tf.Tensor1D,
    };
  });
}

/** Sums of a batch's statistics; divided by `pairs` for the logged means. */
interface DpoStats {
  pairs: number;
  loss: number;
  chosenRewards: number;
  rejectedRewards: number;
  correct: number;
  margins: number;
  logpsChosen: number;
  logpsRejected: number;
}

const emptyStats = (): DpoStats => ({
  pairs: 0,
  loss: 0,
  chosenRewards: 0,
  rejectedRewards: 0,
  correct: 0,
  margins: 0,
  logpsChosen: 0,
  logpsRejected: 0,
});

function sumStats(a: DpoStats, b: DpoStats): DpoStats {
  return {
    pairs: a.pairs + b.pairs,
    loss: a.loss + b.loss,
    chosenRewards: a.chosenRewards + b.chosenRewards,
    rejectedRewards: a.rejectedRewards + b.rejectedRewards,
    correct: a.correct + b.correct,
    margins: a.margins + b.margins,
    logpsChosen: a.logpsChosen + b.logpsChosen,
    logpsRejected: a.logpsRejected + b.logpsRejected,
  };
}

function addStats(
  into: DpoStats,
  loss: number[],
  chosen: number[],
  rejected: number[],
  logps: number[][],
): void {
  const [pc, pr] = logps as [number[], number[]];
  for (let i = 0; i < loss.length; i++) {
    into.pairs += 1;
    into.loss += loss[i]!;
    into.chosenRewards += chosen[i]!;
    into.rejectedRewards += rejected[i]!;
    into.correct += chosen[i]! > rejected[i]! ? 1 : 0;
    into.margins += chosen[i]! - rejected[i]!;
    into.logpsChosen += pc[i]!;
    into.logpsRejected += pr[i]!;
  }
}

/** TRL's metric names (prefixed `eval/` for held-out pairs). */
function statsMetrics(s: DpoStats, prefix = ""): Record<string, number> {
  return {
    [`${prefix}loss`]: s.loss / s.pairs,
    [`${prefix}rewards/chosen`]: s.chosenRewards / s.pairs,
    [`${prefix}rewards/rejected`]: s.rejectedRewards / s.pairs,
    [`${prefix}rewards/accuracies`]: s.correct / s.pairs,
    [`${prefix}rewards/margins`]: s.margins / s.pairs,
    [`${prefix}logps/chosen`]: s.logpsChosen / s.pairs,
    [`${prefix}logps/rejected`]: s.logpsRejected / s.pairs,
  };
}

/**
 * The loss over one batch of pairs: chosen and rejected go through the policy together (2B rows, TRL's
 * concatenated forward). IPO compares per-token means; the logged logps stay sums either way.
 */
function batchForward(policy: GPT, pairs: DpoPair[], o: DpoLossOptions, padId: number) {
  const batch = conversationBatch(
    [...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)],
    padId,
    true,
  );
  const n = pairs.length;
  const perToken = (conversations: Conversation[]) =>
    o.loss === "ipo" ? conversations.map(responseTokenCount) : conversations.map(() => 1);
  const scaleChosen = perToken(pairs.map((p) => p.chosen));
  const scaleRejected = perToken(pairs.map((p) => p.rejected));
  return {
    tokens: batch.batchSize * batch.length,
    run: () => {
      const sums = sequenceLogProbs(policy, batch).sum; // [2B]
      const policyChosen = tf.slice(sums, 0, n) as tf.Tensor1D;
      const policyRejected = tf.slice(sums, n, n) as tf.Tensor1D;
      const out = dpoLosses(
        {
          policyChosen: tf.div(policyChosen, tf.tensor1d(scaleChosen)),
          policyRejected: tf.div(policyRejected, tf.tensor1d(scaleRejected)),
          refChosen: tf.tensor1d(pairs.map((p, i) => p.refChosen / scaleChosen[i]!)),
          refRejected: tf.tensor1d(pairs.map((p, i) => p.refRejected / scaleRejected[i]!)),
        },
        o,
      );
      return { ...out, policyChosen, policyRejected };
    },
  };
}

/** Mean DPO statistics over held-out pairs, without gradients. */
function evaluateDpo(
  policy: GPT,
  pairs: DpoPair[],
  batchSize: number,
  o: DpoLossOptions,
  padId: number,
): DpoStats {
  const stats = emptyStats();
  for (let start = 0; start < pairs.length; start += batchSize) {
    const items = pairs.slice(start, start + batchSize);
    const values = tf.tidy(() => {
      const out = batchForward(policy, items, o, padId).run();
      return [out.losses, out.chosenRewards, out.rejectedRewards, out.policyChosen, out.policyRejected].map(
        (t) => Array.from(t.dataSync()),
      );
    });
    const [loss, chosen, rejected, pc, pr] = values as [number[], number[], number[], number[], number[]];
    addStats(stats, loss, chosen, rejected, [pc, pr]);
  }
  return stats;
}

/**
 * Rankings → one DPO pair per (chosen, rejected) pair, each conversation chat-formatted; pairs with a side
 * longer than `maxLength` tokens are filtered, not truncated.
 */
export function encodeDpoPairs(
  groups: RankingGroup[],
  tokenizer: Tokenizer,
  maxLength: number,
): { pairs: DpoPair[]; filtered: number } {
  const cache = new Map<string, Conversation>();
  const encode = (prompt: string, c: { id: string; response: string }) => {
    let conversation = cache.get(c.id);
    if (!conversation) {
      const { ids, responseStart } = tokenizer.formatChat(prompt, c.response);
      conversation = { ids, responseStart };
      cache.set(c.id, conversation);
    }
    return conversation;
  };
  const pairs: DpoPair[] = [];
  let filtered = 0;
  for (const group of groups) {
    for (const [c, r] of group.pairs) {
      const chosen = encode(group.prompt, group.completions[c]!);
      const rejected = encode(group.prompt, group.completions[r]!);
      if (chosen.ids.length > maxLength || rejected.ids.length > maxLength) {
        filtered += 1;
        continue;
      }
      pairs.push({
        taskId: group.taskId,
        split: group.split,
        prompt: group.prompt,
        chosen,
        rejected,
        refChosen: 0,
        refRejected: 0,
      });
    }
  }
  return { pairs, filtered };
}

/** Fill in the reference's summed log-probs, scoring each distinct conversation once. */
export function precomputeReferenceLogProbs(
  reference: GPT,
  pairs: DpoPair[],
  padId: number,
  batchSize: number,
): void {
  const distinct = [...new Set(pairs.flatMap((p) => [p.chosen, p.rejected]))];
  const values = sequenceLogProbValues(reference, distinct, padId, batchSize);
  const logpOf = new Map(distinct.map((c, i) => [c, values[i]!]));
  for (const p of pairs) {
    p.refChosen = logpOf.get(p.chosen)!;
    p.refRejected = logpOf.get(p.rejected)!;
  }
}

export async function trainDpo(config: DpoConfig, ctx: JobContext): Promise<RunSummary> {
  // 1. Policy: resumed, or the SFT checkpoint.
  const policyPath = await ctx.resolveCheckpoint(config.policy);
  const resumed = ctx.resumeFrom !== undefined;
  const loaded = await loadCheckpoint(resumed ? ctx.resumeFrom!.path : policyPath, {
    withOptimizer: resumed,
  });
  const { model: policy, tokenizer, optimizerState } = loaded;
  const startStep = resumed ? (loaded.trainerState?.step ?? ctx.resumeFrom!.step) : 0;
  // LoRA: adapters on the frozen SFT policy (the reference's log-probs are still precomputed from the SFT
  // checkpoint below); checkpoints are PEFT adapters naming it.
  if (config.lora && !policy.lora) {
    const adapters = addLora(policy, config.lora, { seed: config.seed, baseModel: policyPath });
    ctx.log(
      `LoRA r=${config.lora.r} alpha=${config.lora.alpha} on ${adapters.modules.size} modules: ${adapters.numParams()} trainable parameters`,
    );
  }
  const lossOptions: DpoLossOptions = {
    loss: config.loss,
    beta: config.beta,
    labelSmoothing: config.labelSmoothing,
  };

  try {
    // 2. Data: every pair of every ranking is one example; split by task.
    const maxLength = Math.min(config.maxLength, policy.config.nPositions);
    // A pair is two sequences of up to maxLength tokens.
    checkPairwiseBatchMemory(policy, ctx, config, maxLength);
    let groups: RankingGroup[];
    try {
      groups = await loadRankingGroups(ctx.database.db, config.datasets, {
        evalFraction: config.evalFraction,
      });
    } catch (error) {
      throw new JobInputError((error as Error).message);
    }
    ctx.log(`rankings from ${describeRankingSources(groups)}`);
    const encoded = encodeDpoPairs(groups, tokenizer, maxLength);
    const { train, held } = splitByTask(encoded.pairs);
    if (train.length === 0) {
      throw new JobInputError(
        `datasets ${config.datasets.join(", ")} have no preference pairs of at most ${maxLength} tokens to train on`,
      );
    }
    ctx.log(
      `pairs: ${train.length} for training, ${held.length} held out` +
        (encoded.filtered > 0
          ? `; ${encoded.filtered} with a side longer than ${maxLength} tokens filtered`
          : ""),
    );
    const evalPairs = held.slice(0, config.evalBatches * config.batchSize);

    // 3. The frozen reference: the SFT checkpoint again, used once for all pairs, then freed.
    const reference = await loadCheckpoint(policyPath, { trainable: false });
    try {
      precomputeReferenceLogProbs(
        reference.model,
        [...train, ...evalPairs],
        tokenizer.padId,
        config.batchSize * 2,
      );
    } finally {
      reference.model.dispose();
    }
    ctx.log(`reference log-probs precomputed for ${train.length + evalPairs.length} pairs`);

    const samplePrompts = [...new Set([...held, ...train].map((p) => p.prompt))]
      .slice(0, SAMPLE_PROMPTS)
      .map((text) => ({ text, ids: tokenizer.formatChat(text).ids }))
      .filter((p) => p.ids.length < policy.config.nPositions);

    const perStep = config.batchSize * config.gradAccumSteps;
    const totalSteps = Math.max(1, Math.ceil((config.epochs * train.length) / perStep));

    const evalAndSample = async (step: number) => {
      let values: Record<string, number> | undefined;
      if (evalPairs.length > 0) {
        values = statsMetrics(
          evaluateDpo(policy, evalPairs, config.batchSize, lossOptions, tokenizer.padId),
          "eval/",
        );
        ctx.telemetry.metrics(step, values);
        ctx.log(
          `step ${step}: eval/loss ${values["eval/loss"]!.toFixed(4)}, eval/rewards/accuracies ${(100 * values["eval/rewards/accuracies"]!).toFixed(1)}%`,
        );
      }
      for (const [i, p] of samplePrompts.entries()) {
        const { tokens } = await generate(policy, [p.ids], {
          maxNewTokens: Math.min(SAMPLE_MAX_TOKENS, policy.config.nPositions - p.ids.length),
          temperature: 1,
          seed: config.seed + step * SAMPLE_PROMPTS + i,
          eosTokenId: tokenizer.eosId,
          padTokenId: tokenizer.padId,
        });
        // PostgreSQL text cannot hold NUL, which an untrained policy may well emit.
        const response = tokenizer.decode(tokens[0]!, { skipSpecial: true }).replaceAll("\u0000", "\uFFFD");
        ctx.telemetry.sample({ step, prompt: p.text, response });
      }
      return values;
    };

    // 4. Train.
    const result = await runTrainingLoop<DpoStats>({
      kind: "dpo",
      ctx,
      model: policy,
      tokenizer,
      optim: config,
      totalSteps,
      startStep,
      optimizerState,
      plan: (step) =>
        supervisedStep(train, config, step, (items) => {
          const forward = batchForward(policy, items, lossOptions, tokenizer.padId);
          let values: number[][] = [];
          const { loss, grads } = lossAndGradientsByName(policy.trainableParams(), () => {
            const out = forward.run();
            values = [
              out.losses,
              out.chosenRewards,
              out.rejectedRewards,
              out.policyChosen,
              out.policyRejected,
            ].map((t) => Array.from(t.dataSync()));
            return tf.mean(out.losses) as tf.Scalar;
          });
          const [losses, chosen, rejected, pc, pr] = values as [
            number[],
            number[],
            number[],
            number[],
            number[],
          ];
          const stats = emptyStats();
          addStats(stats, losses, chosen, rejected, [pc, pr]);
          return { loss, grads, tokens: forward.tokens, stats };
        }),
      metrics: ({ step, stats }) => ({
        ...statsMetrics(stats.reduce(sumStats, emptyStats())),
        epoch: (step * perStep) / train.length,
      }),
      logEvery: config.logEvery,
      evaluate: evalAndSample,
      evalEvery: config.evalEvery,
      checkpointEvery: config.checkpointEvery,
    });
    const { last, lastEval } = result;
    return {
      steps: result.steps,
      total_steps: totalSteps,
      loss: last.loss ?? null,
      "rewards/accuracies": last["rewards/accuracies"] ?? null,
      "rewards/margins": last["rewards/margins"] ?? null,
      "eval/loss": lastEval?.["eval/loss"] ?? null,
      "eval/rewards/accuracies": lastEval?.["eval/rewards/accuracies"] ?? null,
      "eval/rewards/margins": lastEval?.["eval/rewards/margins"] ?? null,
      pairs_train: train.length,
      pairs_eval: held.length,
      filtered_pairs: encoded.filtered,
      epochs: (result.steps * perStep) / train.length,
      parameters: policy.numParams(),
      seconds: result.seconds,
    };
  } finally {
    policy.dispose();
    if (optimizerState) for (const t of optimizerState.values()) t.dispose();
  }
}
