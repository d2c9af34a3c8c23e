/**
 * Stage 3 — the reward model: the SFT model's body with a scalar `score` head, trained on rankings with
 * the Bradley–Terry loss −log σ(r_c − r_r − m) (TRL's reward trainer) in InstructGPT's grouping: a batch
 * element is one ranking, each of its completions is scored once, and the loss is the mean over that
 * ranking's C(K,2) pairs. After training the scores are normalised to mean 0, std 1 on samples of the
 * SFT model ("N implementation details"), and the checkpoint is a GPT2ForSequenceClassification.
 */
import type { RewardConfig } from "@rlhf/core/configs";
import type { PreferenceSplit, RankingGroup } from "@rlhf/core/preferences";
import * as tf from "@tensorflow/tfjs";
import { CHECKPOINT_FILES, loadCheckpoint } from "../checkpoint";
import { type GPT, generate } from "../model";
import type { DataParallel, HostTensor } from "../parallel";
import { type PairwiseLossOptions, pairwiseLoss, rankingRowsBatch } from "../parallel/losses-pairwise";
import {
  initRewardHead,
  lastTokenScores,
  normalizeRewards,
  type RewardNormalization,
  rewardHeadIsZero,
  rewardScores,
  rightPadded,
} from "../rl/reward-model";
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

export { type PairwiseLossOptions, pairwiseLoss } from "../parallel/losses-pairwise";

/** A ranking ready for the model: its completions as chat-formatted token ids and its pairs. */
export interface EncodedRanking {
  taskId: string;
  split: PreferenceSplit;
  prompt: string;
  completions: { id: string; ids: number[] }[];
  /** Indices into `completions`; margin = the annotator's strength (0 without one). */
  pairs: { chosen: number; rejected: number; margin: number }[];
}

/**
 * Rankings → token ids (`<|user|>prompt<|assistant|>response<|endoftext|>`, the reward read at the
 * end-of-text). Completions longer than `maxLength` are filtered, not truncated (TRL), with their pairs;
 * a ranking left without pairs is dropped.
 */
export function encodeRankings(
  groups: RankingGroup[],
  tokenizer: Tokenizer,
  maxLength: number,
): { rankings: EncodedRanking[]; filteredCompletions: number; droppedPairs: number } {
  const cache = new Map<string, number[]>();
  const tooLong = new Set<string>();
  let droppedPairs = 0;
  const rankings: EncodedRanking[] = [];
  for (const group of groups) {
    const kept: { id: string; ids: number[] }[] = [];
    const newIndex = new Map<number, number>();
    for (const [i, c] of group.completions.entries()) {
      let ids = cache.get(c.id);
      if (!ids) {
        ids = tokenizer.formatChat(group.prompt, c.response).ids;
        cache.set(c.id, ids);
      }
      if (ids.length > maxLength) {
        tooLong.add(c.id);
        continue;
      }
      newIndex.set(i, kept.length);
      kept.push({ id: c.id, ids });
    }
    const pairs = [];
    for (const [c, r] of group.pairs) {
      const chosen = newIndex.get(c);
      const rejected = newIndex.get(r);
      if (chosen === undefined || rejected === undefined) droppedPairs += 1;
      else pairs.push({ chosen, rejected, margin: group.strength ?? 0 });
    }
    if (pairs.length > 0)
      rankings.push({
        taskId: group.taskId,
        split: group.split,
        prompt: group.prompt,
        completions: kept,
        pairs,
      });
  }
  return { rankings, filteredCompletions: tooLong.size, droppedPairs };
}

/** One batch: each distinct completion once, and every pair with its weight in the batch loss. */
export interface RewardBatch {
  sequences: number[][];
  /** Indices into `sequences`; weight = 1 / (rankings in the batch × pairs of its ranking). */
  pairs: { chosen: number; rejected: number; margin: number; weight: number }[];
}

/**
 * InstructGPT's batch: rankings → the distinct completions to score (one forward pass each, even when
 * several rankings of a task share them) and the pairs over them, weighted so the loss is the mean over
 * rankings of the mean over each ranking's pairs.
 */
export function rewardBatch(rankings: EncodedRanking[]): RewardBatch {
  const sequences: number[][] = [];
  const indexOf = new Map<string, number>();
  const pairs: RewardBatch["pairs"] = [];
  for (const ranking of rankings) {
    const local = ranking.completions.map((c) => {
      let index = indexOf.get(c.id);
      if (index === undefined) {
        index = sequences.length;
        indexOf.set(c.id, index);
        sequences.push(c.ids);
      }
      return index;
    });
    const weight = 1 / (rankings.length * ranking.pairs.length);
    for (const p of ranking.pairs) {
      pairs.push({ chosen: local[p.chosen]!, rejected: local[p.rejected]!, margin: p.margin, weight });
    }
  }
  return { sequences, pairs };
}

/** Pairs ranked right (r_c > r_r), their count, and Σ (r_c − r_r), from plain numbers. */
export function pairStats(rewards: ArrayLike<number>, batch: RewardBatch) {
  let correct = 0;
  let marginSum = 0;
  for (const p of batch.pairs) {
    const d = rewards[p.chosen]! - rewards[p.rejected]!;
    if (d > 0) correct += 1;
    marginSum += d;
  }
  return { correct, pairs: batch.pairs.length, marginSum };
}

/** Loss of one batch, the gradients by parameter name, and the rewards it computed. */
function lossAndGradients(model: GPT, batch: RewardBatch, options: PairwiseLossOptions, padId: number) {
  const { ids, last } = rightPadded(batch.sequences, padId);
  let rewards: Float32Array = new Float32Array();
  try {
    const { loss, grads } = lossAndGradientsByName(model.trainableParams(), () => {
      const r = lastTokenScores(model, ids, last);
      rewards = r.dataSync() as Float32Array;
      return pairwiseLoss(r, batch, options);
    });
    return { loss, grads, rewards, tokens: ids.size };
  } finally {
    ids.dispose();
  }
}

/** Mean loss over rankings, pair accuracy and mean margin on held-out rankings, without gradients. */
export function evaluateRewardModel(
  model: GPT,
  rankings: EncodedRanking[],
  batchSize: number,
  options: PairwiseLossOptions,
  padId: number,
): { loss: number; accuracy: number; margin: number } {
  let lossSum = 0;
  let correct = 0;
  let pairs = 0;
  let marginSum = 0;
  for (let start = 0; start < rankings.length; start += batchSize) {
    const items = rankings.slice(start, start + batchSize);
    const batch = rewardBatch(items);
    const rewards = rewardScores(model, batch.sequences, padId, batch.sequences.length);
    const loss = tf.tidy(() => pairwiseLoss(tf.tensor1d(rewards), batch, options).dataSync()[0]!);
    lossSum += loss * items.length;
    const stats = pairStats(rewards, batch);
    correct += stats.correct;
    pairs += stats.pairs;
    marginSum += stats.marginSum;
  }
  return { loss: lossSum / rankings.length, accuracy: correct / pairs, margin: marginSum / pairs };
}

/**
 * Sample `samples` responses from `policy` (temperature 1) on the prompts, score them with the reward
 * model, and return the gain and bias that give those scores mean 0, std 1 ("N implementation details").
 */
export async function computeNormalization(
  rewardModel: GPT,
  policy: GPT,
  tokenizer: Tokenizer,
  prompts: string[],
  o: { samples: number; seed: number; maxLength: number; batchSize?: number },
): Promise<{
  normalization: RewardNormalization;
  responses: { prompt: string; response: string; score: number }[];
}> {
  const encoded = prompts
    .map((prompt) => ({ prompt, ids: tokenizer.formatChat(prompt).ids }))
    .filter((p) => p.ids.length < o.maxLength);
  if (encoded.length === 0 || o.samples === 0) {
    return { normalization: { gain: 1, bias: 0, samples: 0 }, responses: [] };
  }
  const maxNewTokens = o.maxLength - Math.max(...encoded.map((p) => p.ids.length));
  const batchSize = o.batchSize ?? 16;
  const responses: { prompt: string; response: string; score: number }[] = [];
  const sequences: number[][] = [];
  for (let start = 0; start < o.samples; start += batchSize) {
    const chunk = Array.from(
      { length: Math.min(batchSize, o.samples - start) },
      (_, i) => encoded[(start + i) % encoded.length]!,
    );
    const { tokens } = await generate(
      policy,
      chunk.map((p) => p.ids),
      {
        maxNewTokens,
        temperature: 1,
        seed: o.seed + start,
        eosTokenId: tokenizer.eosId,
        padTokenId: tokenizer.padId,
      },
    );
    chunk.forEach((p, i) => {
      sequences.push([...p.ids, ...tokens[i]!]);
      // PostgreSQL text cannot hold NUL, which an SFT model may emit: shown as U+FFFD.
      const response = tokenizer.decode(tokens[i]!, { skipSpecial: true }).replaceAll("\u0000", "\uFFFD");
      responses.push({ prompt: p.prompt, response, score: 0 });
    });
  }
  const scores = rewardScores(rewardModel, sequences, tokenizer.padId, batchSize);
  scores.forEach((s, i) => {
    responses[i]!.score = s;
  });
  return { normalization: normalizeRewards(scores), responses };
}

/** The rewards of `batch`'s distinct sequences from the workers' scores [R, K] of each ranking's completions. */
function distinctRewards(rankings: EncodedRanking[], batch: RewardBatch, scores: HostTensor): Float32Array {
  const K = scores.shape[1] as number;
  const rewards = new Float32Array(batch.sequences.length);
  const seen = new Map<string, number>();
  for (const [r, ranking] of rankings.entries()) {
    for (const [k, c] of ranking.completions.entries()) {
      if (seen.has(c.id)) continue;
      seen.set(c.id, seen.size);
      rewards[seen.size - 1] = scores.values[r * K + k] as number;
    }
  }
  return rewards;
}

type RewardStats = { rewards: Float32Array; pairs: ReturnType<typeof pairStats> };

/**
 * One micro-step on `items` rankings: on this thread (each distinct completion scored once), or split by
 * rankings across the data-parallel workers (rewardModelLoss).
 */
async function rewardMicroStep(
  model: GPT,
  items: EncodedRanking[],
  options: PairwiseLossOptions,
  padId: number,
  parallel?: DataParallel,
): Promise<MicroStep<RewardStats>> {
  const batch = rewardBatch(items);
  if (!parallel) {
    const out = lossAndGradients(model, batch, options, padId);
    const stats = { rewards: out.rewards, pairs: pairStats(out.rewards, batch) };
    return { loss: out.loss, grads: out.grads, tokens: out.tokens, stats };
  }
  const rows = rankingRowsBatch(
    items.map((r) => ({ completions: r.completions.map((c) => c.ids), pairs: r.pairs })),
    padId,
  );
  const out = await parallel.gradients(rows, { options: { ...options, rows: items.length } });
  const rewards = distinctRewards(items, batch, out.rows.scores as HostTensor);
  const tokens = (rows.ids as HostTensor).values.length;
  return {
    loss: out.loss,
    grads: gradientsByName(model.trainableParams(), out.grads),
    tokens,
    stats: { rewards, pairs: pairStats(rewards, batch) },
  };
}

/** The logged metrics of a step from its micro-steps' statistics. */
function rewardStepMetrics(losses: number[], stats: RewardStats[]): Record<string, number> {
  const r = stats.flatMap((s) => [...s.rewards]);
  const pairs = stats.reduce((n, s) => n + s.pairs.pairs, 0);
  const mean = r.reduce((a, b) => a + b, 0) / r.length;
  const std = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / r.length);
  return {
    loss: losses[0]!,
    accuracy: stats.reduce((n, s) => n + s.pairs.correct, 0) / pairs,
    margin: stats.reduce((n, s) => n + s.pairs.marginSum, 0) / pairs,
    "reward/mean": mean,
    "reward/std": std,
    "reward/min": Math.min(...r),
    "reward/max": Math.max(...r),
  };
}

/**
 * Gain and bias that give the rewards of SFT samples mean 0, std 1 ("N implementation details"), logged
 * with a few of the samples.
 */
async function normalizeOnSft(
  ctx: JobContext,
  model: GPT,
  tokenizer: Tokenizer,
  o: { initPath: string; prompts: string[]; config: RewardConfig; maxLength: number; step: number },
): Promise<RewardNormalization> {
  const { config, step } = o;
  if (config.normalizeSamples === 0) return { gain: 1, bias: 0, samples: 0 };
  const sft = await loadCheckpoint(o.initPath, { trainable: false });
  try {
    const { normalization, responses } = await computeNormalization(model, sft.model, tokenizer, o.prompts, {
      samples: config.normalizeSamples,
      seed: config.seed,
      maxLength: o.maxLength,
      batchSize: Math.max(config.batchSize, 8),
    });
    for (const r of responses.slice(0, 4)) {
      ctx.telemetry.sample({
        step,
        prompt: r.prompt,
        response: r.response,
        reward: normalization.gain * r.score + normalization.bias,
        extra: { raw_reward: r.score, source: "normalization" },
      });
    }
    ctx.telemetry.metrics(step, {
      "normalization/gain": normalization.gain,
      "normalization/bias": normalization.bias,
    });
    ctx.log(
      `reward normalisation on ${normalization.samples} SFT samples: gain ${normalization.gain.toFixed(4)}, bias ${normalization.bias.toFixed(4)}`,
    );
    return normalization;
  } finally {
    sft.model.dispose();
  }
}

/** Rankings of the config's datasets, encoded and split by task, logged. */
async function rewardData(ctx: JobContext, config: RewardConfig, tokenizer: Tokenizer, maxLength: number) {
  const groups = await loadRankings(ctx, config);
  const encoded = encodeRankings(groups, tokenizer, maxLength);
  const { train, held } = splitForTraining(
    encoded.rankings,
    `datasets ${config.datasets.join(", ")} have no rankings with a preference of at most ${maxLength} tokens to train on`,
  );
  const pairCount = (rs: EncodedRanking[]) => rs.reduce((n, r) => n + r.pairs.length, 0);
  ctx.log(
    `rankings: ${train.length} for training (${pairCount(train)} pairs), ${held.length} held out (${pairCount(held)} pairs)` +
      (encoded.filteredCompletions > 0
        ? `; ${encoded.filteredCompletions} completions longer than ${maxLength} tokens filtered (${encoded.droppedPairs} pairs)`
        : ""),
  );
  if (held.length === 0) ctx.log("no held-out rankings: eval metrics are skipped", "warn");
  return { groups, encoded, train, held, pairCount };
}

export async function trainReward(config: RewardConfig, ctx: JobContext): Promise<RunSummary> {
  // 1. Model: resumed, or the SFT checkpoint's body with a new score head; LoRA adapters on the frozen body,
  //    the score head trained with them (PEFT's modules_to_save).
  const initPath = await ctx.resolveCheckpoint(config.init);
  const trainable = await loadTrainable(ctx, initPath, {
    rewardHead: true,
    lora: config.lora,
    seed: config.seed,
    trainable: ["score.weight"],
    prepare: (model) => {
      if (!rewardHeadIsZero(model)) return;
      initRewardHead(model, config.seed);
      ctx.log(`score head initialised N(0, 1/√(d+1)) on the body of ${initPath}`);
    },
  });
  const { model, tokenizer } = trainable;
  try {
    // 2. Data: one element per ranking; split by task, so no prompt's completions sit on both sides.
    const maxLength = Math.min(config.maxLength, model.config.nPositions);
    const { groups, encoded, train, held, pairCount } = await rewardData(ctx, config, tokenizer, maxLength);
    const evalRankings = held.slice(0, config.evalBatches * config.batchSize);
    const lossOptions: PairwiseLossOptions = {
      marginFromStrength: config.marginFromStrength,
      centerRewardsCoefficient: config.centerRewardsCoefficient,
    };
    const perStep = config.batchSize * config.gradAccumSteps;
    const totalSteps = Math.max(1, Math.ceil((config.epochs * train.length) / perStep));

    const runEval = async (step: number) => {
      if (evalRankings.length === 0) return undefined;
      const result = evaluateRewardModel(model, evalRankings, config.batchSize, lossOptions, tokenizer.padId);
      const values = {
        "eval/loss": result.loss,
        "eval/accuracy": result.accuracy,
        "eval/margin": result.margin,
      };
      ctx.telemetry.metrics(step, values);
      ctx.log(
        `step ${step}: eval/loss ${result.loss.toFixed(4)}, eval/accuracy ${(100 * result.accuracy).toFixed(1)}%`,
      );
      return values;
    };

    // 3. Train: micro-batches of `batchSize` rankings (split further when they do not fit the heap; each
    //    ranking's completions up to maxLength tokens), gradients averaged over them.
    let normalization: RewardNormalization = { gain: 1, bias: 0, samples: 0 };
    const result = await runTrainingLoop<RewardStats>({
      kind: "reward",
      ctx,
      model,
      tokenizer,
      totalSteps,
      startStep: trainable.startStep,
      optimizerState: trainable.optimizerState,
      ...pairwiseLoopParts(ctx, model, config, train, {
        rowsPerItem: Math.max(...train.map((r) => r.completions.length)),
        seqLen: maxLength,
        head: "scores",
        what: "rankings",
        loss: REWARD_SHARD_LOSS,
        microStep: (items, parallel) => rewardMicroStep(model, items, lossOptions, tokenizer.padId, parallel),
      }),
      metrics: ({ step, losses, stats }) => ({
        ...rewardStepMetrics(losses, stats),
        epoch: (step * perStep) / train.length,
      }),
      logEvery: config.logEvery,
      evaluate: runEval,
      evalEvery: config.evalEvery,
      checkpointEvery: config.checkpointEvery,
      // 4. At the end of training (not when stopped early): normalise on samples of the SFT model; the
      //    final checkpoint carries reward_normalization.json.
      beforeFinalCheckpoint: async (step) => {
        const prompts = [...new Set(groups.map((g) => g.prompt))];
        normalization = await normalizeOnSft(ctx, model, tokenizer, {
          initPath,
          prompts,
          config,
          maxLength,
          step,
        });
        return { [CHECKPOINT_FILES.rewardNormalization]: normalization };
      },
    });
    const { steps, loss, lastEval } = result;
    const accuracy = result.last.accuracy ?? Number.NaN;
    if (!result.finished) return { steps, total_steps: totalSteps, loss, accuracy, stopped: true };
    return {
      steps,
      loss,
      accuracy,
      "eval/loss": lastEval?.["eval/loss"] ?? null,
      "eval/accuracy": lastEval?.["eval/accuracy"] ?? null,
      "eval/margin": lastEval?.["eval/margin"] ?? null,
      rankings_train: train.length,
      rankings_eval: held.length,
      pairs_train: pairCount(train),
      pairs_eval: pairCount(held),
      filtered_completions: encoded.filteredCompletions,
      epochs: (steps * perStep) / train.length,
      "normalization/gain": normalization.gain,
      "normalization/bias": normalization.bias,
      "normalization/samples": normalization.samples,
      parameters: model.numParams(),
      seconds: result.seconds,
    };
  } finally {
    disposeTrainable(trainable);
  }
}

/** The reward model's loss as the data-parallel workers import it. */
const REWARD_SHARD_LOSS = {
  module: new URL("../parallel/losses-pairwise.ts", import.meta.url).href,
  name: "rewardModelLoss",
};
