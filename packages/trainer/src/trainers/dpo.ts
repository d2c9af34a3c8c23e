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
import type { PreferenceSplit, RankingGroup } from "@rlhf/core/preferences";
import * as tf from "@tensorflow/tfjs";
import { loadCheckpoint } from "../checkpoint";
import { type Conversation, conversationBatch } from "../data";
import { type GPT, generate } from "../model";
import type { DataParallel, HostTensor } from "../parallel";
import {
  DPO_ROW_OUTPUTS,
  type DpoBatch,
  type DpoLossOptions,
  dpoForward,
  dpoRowsBatch,
} from "../parallel/losses-pairwise";
import { responseTokenCount, sequenceLogProbValues } from "../rl/sequence-logprobs";
import type { Tokenizer } from "../tokenizer";
import type { JobContext, RunSummary } from "../train/context";
import { gradientsByName, lossAndGradientsByName } from "../train/gradients";
import { type MicroStep, runTrainingLoop } from "../train/loop";
import {
  disposeTrainable,
  loadRankings,
  loadTrainable,
  pairwiseLoopParts,
  splitForTraining,
} from "./preference-run";

export { type DpoLossOptions, dpoLosses } from "../parallel/losses-pairwise";

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
 * One batch of pairs for the policy: chosen and rejected go through it together (2B rows, TRL's
 * concatenated forward). IPO compares per-token means; the logged logps stay sums either way.
 */
function dpoBatch(pairs: DpoPair[], o: DpoLossOptions, padId: number): DpoBatch {
  const batch = conversationBatch(
    [...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)],
    padId,
    true,
  );
  const perToken = (conversations: Conversation[]) =>
    o.loss === "ipo" ? conversations.map(responseTokenCount) : conversations.map(() => 1);
  const scaleChosen = perToken(pairs.map((p) => p.chosen));
  const scaleRejected = perToken(pairs.map((p) => p.rejected));
  return {
    batch,
    scaleChosen: Float32Array.from(scaleChosen),
    scaleRejected: Float32Array.from(scaleRejected),
    refChosen: Float32Array.from(pairs.map((p, i) => p.refChosen / scaleChosen[i]!)),
    refRejected: Float32Array.from(pairs.map((p, i) => p.refRejected / scaleRejected[i]!)),
  };
}

/** Per-pair statistics from dpoForward's outputs (as tensors, or the workers' rows), added into `stats`. */
function statsOf(outputs: Record<string, tf.Tensor | HostTensor>, stats = emptyStats()): DpoStats {
  const [loss, chosen, rejected, pc, pr] = DPO_ROW_OUTPUTS.map((key) => {
    const t = outputs[key]!;
    return Array.from(t instanceof tf.Tensor ? t.dataSync() : t.values);
  }) as [number[], number[], number[], number[], number[]];
  addStats(stats, loss, chosen, rejected, [pc, pr]);
  return stats;
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
    tf.tidy(() => {
      statsOf(dpoForward(policy, dpoBatch(items, o, padId), o), stats);
    });
  }
  return stats;
}

/** One micro-step on `items` pairs: on this thread, or split by pairs across the data-parallel workers. */
async function dpoMicroStep(
  policy: GPT,
  items: DpoPair[],
  o: DpoLossOptions,
  padId: number,
  parallel?: DataParallel,
): Promise<MicroStep<DpoStats>> {
  const b = dpoBatch(items, o, padId);
  const tokens = b.batch.batchSize * b.batch.length;
  if (parallel) {
    const out = await parallel.gradients(dpoRowsBatch(b), { options: { ...o } });
    const grads = gradientsByName(policy.trainableParams(), out.grads);
    return { loss: out.loss, grads, tokens, stats: statsOf(out.rows) };
  }
  let stats = emptyStats();
  const { loss, grads } = lossAndGradientsByName(policy.trainableParams(), () => {
    const out = dpoForward(policy, b, o);
    stats = statsOf(out);
    return tf.mean(out.losses) as tf.Scalar;
  });
  return { loss, grads, tokens, stats };
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

/** Every pair of the config's rankings, encoded and split by task, logged. */
async function dpoData(ctx: JobContext, config: DpoConfig, tokenizer: Tokenizer, maxLength: number) {
  const groups = await loadRankings(ctx, config);
  const encoded = encodeDpoPairs(groups, tokenizer, maxLength);
  const { train, held } = splitForTraining(
    encoded.pairs,
    `datasets ${config.datasets.join(", ")} have no preference pairs of at most ${maxLength} tokens to train on`,
  );
  ctx.log(
    `pairs: ${train.length} for training, ${held.length} held out` +
      (encoded.filtered > 0
        ? `; ${encoded.filtered} with a side longer than ${maxLength} tokens filtered`
        : ""),
  );
  return { encoded, train, held };
}

/** The frozen reference: the SFT checkpoint again, used once for all pairs, then freed. */
async function fillReferenceLogProbs(
  ctx: JobContext,
  policyPath: string,
  pairs: DpoPair[],
  padId: number,
  batchSize: number,
): Promise<void> {
  const reference = await loadCheckpoint(policyPath, { trainable: false });
  try {
    precomputeReferenceLogProbs(reference.model, pairs, padId, batchSize);
  } finally {
    reference.model.dispose();
  }
  ctx.log(`reference log-probs precomputed for ${pairs.length} pairs`);
}

/** The evaluation of step `step`: TRL's metrics on held-out pairs, and a few prompts answered. */
function dpoEvaluation(
  ctx: JobContext,
  policy: GPT,
  tokenizer: Tokenizer,
  o: { config: DpoConfig; lossOptions: DpoLossOptions; evalPairs: DpoPair[]; prompts: string[] },
) {
  const { config } = o;
  const samplePrompts = o.prompts
    .slice(0, SAMPLE_PROMPTS)
    .map((text) => ({ text, ids: tokenizer.formatChat(text).ids }))
    .filter((p) => p.ids.length < policy.config.nPositions);
  return async (step: number) => {
    let values: Record<string, number> | undefined;
    if (o.evalPairs.length > 0) {
      values = statsMetrics(
        evaluateDpo(policy, o.evalPairs, config.batchSize, o.lossOptions, tokenizer.padId),
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
}

export async function trainDpo(config: DpoConfig, ctx: JobContext): Promise<RunSummary> {
  // 1. Policy: resumed, or the SFT checkpoint; with LoRA, adapters on the frozen SFT policy (the reference's
  //    log-probs are still precomputed from the SFT checkpoint below); checkpoints are PEFT adapters naming it.
  const policyPath = await ctx.resolveCheckpoint(config.policy);
  const trainable = await loadTrainable(ctx, policyPath, { lora: config.lora, seed: config.seed });
  const { model: policy, tokenizer } = trainable;
  const lossOptions: DpoLossOptions = {
    loss: config.loss,
    beta: config.beta,
    labelSmoothing: config.labelSmoothing,
  };
  try {
    // 2. Data: every pair of every ranking is one example; split by task.
    const maxLength = Math.min(config.maxLength, policy.config.nPositions);
    const { encoded, train, held } = await dpoData(ctx, config, tokenizer, maxLength);
    const evalPairs = held.slice(0, config.evalBatches * config.batchSize);
    // 3. The frozen reference's log-probs, once.
    await fillReferenceLogProbs(
      ctx,
      policyPath,
      [...train, ...evalPairs],
      tokenizer.padId,
      config.batchSize * 2,
    );
    const perStep = config.batchSize * config.gradAccumSteps;
    const totalSteps = Math.max(1, Math.ceil((config.epochs * train.length) / perStep));
    const evaluate = dpoEvaluation(ctx, policy, tokenizer, {
      config,
      lossOptions,
      evalPairs,
      prompts: [...new Set([...held, ...train].map((p) => p.prompt))],
    });

    // 4. Train: micro-batches of `batchSize` pairs (split further when they do not fit the heap; a pair is
    //    two sequences of up to maxLength tokens).
    const result = await runTrainingLoop<DpoStats>({
      kind: "dpo",
      ctx,
      model: policy,
      tokenizer,
      totalSteps,
      startStep: trainable.startStep,
      optimizerState: trainable.optimizerState,
      ...pairwiseLoopParts(ctx, policy, config, train, {
        rowsPerItem: 2,
        seqLen: maxLength,
        head: "logits",
        what: "pairs",
        loss: DPO_SHARD_LOSS,
        microStep: (items, parallel) => dpoMicroStep(policy, items, lossOptions, tokenizer.padId, parallel),
      }),
      metrics: ({ step, stats }) => ({
        ...statsMetrics(stats.reduce(sumStats, emptyStats())),
        epoch: (step * perStep) / train.length,
      }),
      logEvery: config.logEvery,
      evaluate,
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
    disposeTrainable(trainable);
  }
}

/** DPO's loss as the data-parallel workers import it. */
const DPO_SHARD_LOSS = {
  module: new URL("../parallel/losses-pairwise.ts", import.meta.url).href,
  name: "dpoLoss",
};
