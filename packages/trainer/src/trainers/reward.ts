/**
 * Stage 3 — the reward model: the SFT model's body with a scalar `score` head, trained on rankings with
 * the Bradley–Terry loss −log σ(r_c − r_r − m) (TRL's reward trainer) in InstructGPT's grouping: a batch
 * element is one ranking, each of its completions is scored once, and the loss is the mean over that
 * ranking's C(K,2) pairs. After training the scores are normalised to mean 0, std 1 on samples of the
 * SFT model ("N implementation details"), and the checkpoint is a GPT2ForSequenceClassification.
 */
import type { RewardConfig } from "@rlhf/core/configs";
import {
  describeRankingSources,
  loadRankingGroups,
  type PreferenceSplit,
  type RankingGroup,
  splitByTask,
} from "@rlhf/core/preferences";
import * as tf from "@tensorflow/tfjs";
import { CHECKPOINT_FILES, loadCheckpoint } from "../checkpoint";
import { type JobContext, JobInputError, type RunSummary } from "../train/context";
import { addLora, type GPT, generate } from "../model";
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
import { lossAndGradientsByName } from "../train/gradients";
import { runTrainingLoop, supervisedStep } from "../train/loop";
import { checkPairwiseBatchMemory } from "../train/pairwise-memory";

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

export interface PairwiseLossOptions {
  /** Subtract each pair's margin (the annotator's strength) inside the sigmoid. */
  marginFromStrength: boolean;
  /** Coefficient of the centering term Σ w (r_c + r_r)² (TRL's center_rewards_coefficient). */
  centerRewardsCoefficient: number;
}

/**
 * The batch loss from the rewards r [U] of its distinct completions:
 * Σ_pairs w · (−log σ(r_c − r_r − m)) + c · Σ_pairs w · (r_c + r_r)². −log σ(x) is softplus(−x);
 * r_c and r_r are picked with one-hot rows (tf.gather has no gradient on wasm).
 */
export function pairwiseLoss(
  rewards: tf.Tensor1D,
  batch: RewardBatch,
  options: PairwiseLossOptions,
): tf.Scalar {
  return tf.tidy(() => {
    const u = rewards.shape[0];
    const p = batch.pairs.length;
    const pickChosen = new Float32Array(p * u);
    const pickRejected = new Float32Array(p * u);
    const margin = new Float32Array(p);
    const weight = new Float32Array(p);
    batch.pairs.forEach((pair, i) => {
      pickChosen[i * u + pair.chosen] = 1;
      pickRejected[i * u + pair.rejected] = 1;
      margin[i] = options.marginFromStrength ? pair.margin : 0;
      weight[i] = pair.weight;
    });
    const r = rewards.reshape([1, u]);
    const rChosen = tf.sum(tf.mul(tf.tensor2d(pickChosen, [p, u]), r), 1); // [P]
    const rRejected = tf.sum(tf.mul(tf.tensor2d(pickRejected, [p, u]), r), 1); // [P]
    const w = tf.tensor1d(weight);
    const logits = tf.sub(tf.sub(rChosen, rRejected), tf.tensor1d(margin)); // [P]
    let loss = tf.sum(tf.mul(w, tf.softplus(tf.neg(logits))));
    if (options.centerRewardsCoefficient > 0) {
      const centering = tf.sum(tf.mul(w, tf.square(tf.add(rChosen, rRejected))));
      loss = tf.add(loss, tf.mul(centering, options.centerRewardsCoefficient));
    }
    return loss as tf.Scalar;
  });
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

export async function trainReward(config: RewardConfig, ctx: JobContext): Promise<RunSummary> {
  // 1. Model: resumed, or the SFT checkpoint's body with a new score head.
  const initPath = await ctx.resolveCheckpoint(config.init);
  const resumed = ctx.resumeFrom !== undefined;
  const loaded = await loadCheckpoint(resumed ? ctx.resumeFrom!.path : initPath, {
    rewardHead: true,
    withOptimizer: resumed,
  });
  const { model, tokenizer, optimizerState } = loaded;
  const startStep = resumed ? (loaded.trainerState?.step ?? ctx.resumeFrom!.step) : 0;
  if (!resumed && rewardHeadIsZero(model)) {
    initRewardHead(model, config.seed);
    ctx.log(`score head initialised N(0, 1/√(d+1)) on the body of ${initPath}`);
  }
  // LoRA: adapters on the frozen body, the score head trained with them (PEFT's modules_to_save).
  if (config.lora && !model.lora) {
    const adapters = addLora(model, config.lora, {
      seed: config.seed,
      trainable: ["score.weight"],
      baseModel: initPath,
    });
    ctx.log(
      `LoRA r=${config.lora.r} alpha=${config.lora.alpha} on ${adapters.modules.size} modules, score head trained: ${adapters.numParams() + model.param("score.weight").size} trainable parameters`,
    );
  }
  try {
    // 2. Data: one element per ranking; split by task, so no prompt's completions sit on both sides.
    const maxLength = Math.min(config.maxLength, model.config.nPositions);
    // A ranking is at least two sequences of up to maxLength tokens.
    checkPairwiseBatchMemory(model, ctx, config, maxLength);
    let groups: RankingGroup[];
    try {
      groups = await loadRankingGroups(ctx.database.db, config.datasets, {
        evalFraction: config.evalFraction,
      });
    } catch (error) {
      throw new JobInputError((error as Error).message);
    }
    ctx.log(`rankings from ${describeRankingSources(groups)}`);
    const encoded = encodeRankings(groups, tokenizer, maxLength);
    const { train, held } = splitByTask(encoded.rankings);
    if (train.length === 0) {
      throw new JobInputError(
        `datasets ${config.datasets.join(", ")} have no rankings with a preference of at most ${maxLength} tokens to train on`,
      );
    }
    const pairCount = (rs: EncodedRanking[]) => rs.reduce((n, r) => n + r.pairs.length, 0);
    ctx.log(
      `rankings: ${train.length} for training (${pairCount(train)} pairs), ${held.length} held out (${pairCount(held)} pairs)` +
        (encoded.filteredCompletions > 0
          ? `; ${encoded.filteredCompletions} completions longer than ${maxLength} tokens filtered (${encoded.droppedPairs} pairs)`
          : ""),
    );
    if (held.length === 0) ctx.log("no held-out rankings: eval metrics are skipped", "warn");
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

    /** Gain and bias that give the rewards of SFT samples mean 0, std 1 ("N implementation details"). */
    const normalizeOnSft = async (step: number): Promise<RewardNormalization> => {
      if (config.normalizeSamples === 0) return { gain: 1, bias: 0, samples: 0 };
      const sft = await loadCheckpoint(initPath, { trainable: false });
      try {
        const prompts = [...new Set(groups.map((g) => g.prompt))];
        const { normalization, responses } = await computeNormalization(
          model,
          sft.model,
          tokenizer,
          prompts,
          {
            samples: config.normalizeSamples,
            seed: config.seed,
            maxLength,
            batchSize: Math.max(config.batchSize, 8),
          },
        );
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
    };

    // 3. Train: micro-batches of `batchSize` rankings, gradients averaged over them.
    let normalization: RewardNormalization = { gain: 1, bias: 0, samples: 0 };
    const result = await runTrainingLoop<{ rewards: Float32Array; pairs: ReturnType<typeof pairStats> }>({
      kind: "reward",
      ctx,
      model,
      tokenizer,
      optim: config,
      totalSteps,
      startStep,
      optimizerState,
      plan: (step) =>
        supervisedStep(train, config, step, (items) => {
          const batch = rewardBatch(items);
          const out = lossAndGradients(model, batch, lossOptions, tokenizer.padId);
          return {
            loss: out.loss,
            grads: out.grads,
            tokens: out.tokens,
            stats: { rewards: out.rewards, pairs: pairStats(out.rewards, batch) },
          };
        }),
      metrics: ({ step, losses, stats }) => {
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
          epoch: (step * perStep) / train.length,
        };
      },
      logEvery: config.logEvery,
      evaluate: runEval,
      evalEvery: config.evalEvery,
      checkpointEvery: config.checkpointEvery,
      // 4. At the end of training (not when stopped early): normalise on samples of the SFT model; the
      //    final checkpoint carries reward_normalization.json.
      beforeFinalCheckpoint: async (step) => {
        normalization = await normalizeOnSft(step);
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
    model.dispose();
    if (optimizerState) for (const t of optimizerState.values()) t.dispose();
  }
}
