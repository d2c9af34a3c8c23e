/**
 * Stage 4 — PPO against a reward model, after CleanRL's ppo.py and "The N implementation details of
 * RLHF with PPO" (Huang et al.), with TRL's metric names. One iteration:
 *
 *   1. rollout: sample prompts, generate responses with temperature-scaled logits, truncate after the
 *      first end-of-text;
 *   2. score: reward model on prompt + response (normalised), minus a penalty when there is no end token;
 *   3. per-token rewards: −β·KL(π‖π_ref) at every token, plus the score at the last real token;
 *   4. advantages: GAE as a reversed loop, then whitened;
 *   5. update: epochs × shuffled minibatches of the clipped policy loss and the clipped value loss;
 *   6. adapt β (adaptive KL), log, sample, checkpoint.
 *
 * The reference policy (the SFT checkpoint) and the reward model are frozen; there is no dropout.
 */
import path from "node:path";
import type { PpoConfig } from "@rlhf/core/configs";
import { oracleScore } from "@rlhf/core/demo";
import * as tf from "@tensorflow/tfjs";
import { loadCheckpoint, saveCheckpoint } from "../checkpoint";
import { loadPrompts } from "../data";
import { type JobContext, JobInputError, type RunSummary } from "../jobs/context";
import { entropyFromLogits, type GPT, generate, hashSeed, logProbsOf, mulberry32 } from "../model";
import { computeGae, KlController, klPerToken, maskedMean, maskedWhiten, permutation } from "../rl/ppo-math";
import { applyNormalization, rewardScores } from "../rl/reward-model";
import type { Tokenizer } from "../tokenizer";
import { NonFiniteLossError } from "../train/adamw";
import { lossAndGradientsByName } from "../train/gradients";
import { type MicroStep, runTrainingLoop, type StepOutcome } from "../train/loop";

/** A rollout as flat [B, T] arrays: prompt left-padded to P tokens, response right-padded to R tokens. */
interface Rollout {
  batch: number;
  promptLength: number;
  responseLength: number;
  /** [B, P + R] token ids and attention mask. */
  inputIds: Int32Array;
  attention: Float32Array;
  /** [B, R] response tokens, their mask, and per-token statistics. */
  responses: Int32Array;
  mask: Float32Array;
  logprobs: Float32Array;
  refLogprobs: Float32Array;
  values: Float32Array;
  entropy: Float32Array;
  scores: number[];
  endedWithEos: boolean[];
  prompts: string[];
  texts: string[];
}

/** Scores of rollouts: token sequences (prompt + response) and the responses' text → one number each. */
type Scorer = (sequences: number[][], responses: string[]) => number[];

/** A reward function named in the config (`rewardFunction`), for experiments without a reward model. */
export function rewardFunction(spec: string): (response: string) => number {
  if (spec === "sentiment") return (response) => oracleScore(response);
  if (spec.startsWith("contains:")) {
    const needle = spec.slice("contains:".length);
    return (response) => response.split(needle).length - 1;
  }
  throw new JobInputError(`rewardFunction "${spec}": expected "sentiment" or "contains:<text>"`);
}

/** The models PPO trains, with their optimiser parameters under one namespace ("policy/…", "value/…"). */
interface Learner {
  policy: GPT;
  /** A separate value model (valueModel: "reward"), else undefined and the policy's value head is used. */
  valueModel?: GPT;
  params: Map<string, tf.Variable>;
}

/**
 * Log-probs (at temperature), entropy and values of the response tokens: the logits at position P−1+t
 * predict response token t, and the value of that state is read at the same position.
 */
function responseStats(
  learner: Pick<Learner, "policy" | "valueModel">,
  inputIds: tf.Tensor2D,
  attention: tf.Tensor2D,
  responses: tf.Tensor2D,
  promptLength: number,
  temperature: number,
  withValues: boolean,
): { logprobs: tf.Tensor2D; entropy: tf.Tensor2D; values?: tf.Tensor2D } {
  const [batch] = inputIds.shape;
  const responseLength = responses.shape[1];
  const out = learner.policy.forward(inputIds, {
    attentionMask: attention,
    logits: "all",
    returnHidden: false,
  });
  const vocab = out.logits!.shape[2];
  // [B, R, V]: the logits that predict each response token, scaled by the rollout temperature.
  const logits = tf.div(
    tf.slice(out.logits!, [0, promptLength - 1, 0], [batch, responseLength, vocab]),
    temperature,
  );
  const logprobs = logProbsOf(logits, responses) as tf.Tensor2D;
  const entropy = entropyFromLogits(logits) as tf.Tensor2D;
  if (!withValues) return { logprobs, entropy };
  const valueSource = learner.valueModel
    ? learner.valueModel.forward(inputIds, { attentionMask: attention, logits: "none", returnHidden: false })
        .scores!
    : out.values!;
  const values = tf.slice(valueSource, [0, promptLength - 1], [batch, responseLength]) as tf.Tensor2D;
  return { logprobs, entropy, values };
}

function tensorsOf(r: Rollout, rows?: number[]) {
  const pick = <T extends Int32Array | Float32Array>(data: T, width: number): T => {
    if (!rows) return data;
    const out = new (data.constructor as new (n: number) => T)(rows.length * width);
    for (const [i, row] of rows.entries()) out.set(data.subarray(row * width, (row + 1) * width), i * width);
    return out;
  };
  const b = rows?.length ?? r.batch;
  const full = r.promptLength + r.responseLength;
  return {
    b,
    inputIds: tf.tensor2d(pick(r.inputIds, full), [b, full], "int32"),
    attention: tf.tensor2d(pick(r.attention, full), [b, full], "float32"),
    responses: tf.tensor2d(pick(r.responses, r.responseLength), [b, r.responseLength], "int32"),
    pick: (data: Float32Array) => pick(data, r.responseLength),
  };
}

async function rollout(
  o: { learner: Learner; reference: GPT; score: Scorer; tokenizer: Tokenizer; config: PpoConfig },
  prompts: string[],
  seed: number,
): Promise<Rollout> {
  const { tokenizer, config } = o;
  const promptIds = prompts.map((p) => tokenizer.formatChat(p).ids);
  // 1. Generate with temperature-scaled logits; rows stop after their first end-of-text.
  const generated = await generate(o.learner.policy, promptIds, {
    maxNewTokens: config.responseLength,
    temperature: config.temperature,
    seed,
    eosTokenId: config.stopAtEos ? tokenizer.eosId : undefined,
    padTokenId: tokenizer.padId,
  });
  const batch = prompts.length;
  const P = Math.max(...promptIds.map((p) => p.length));
  const R = Math.max(1, ...generated.tokens.map((t) => t.length));
  const inputIds = new Int32Array(batch * (P + R)).fill(tokenizer.padId);
  const attention = new Float32Array(batch * (P + R));
  const responses = new Int32Array(batch * R).fill(tokenizer.padId);
  const mask = new Float32Array(batch * R);
  const endedWithEos: boolean[] = [];
  for (let b = 0; b < batch; b++) {
    const prompt = promptIds[b]!;
    const response = generated.tokens[b]!;
    const row = b * (P + R);
    prompt.forEach((id, i) => {
      inputIds[row + P - prompt.length + i] = id; // left padding
      attention[row + P - prompt.length + i] = 1;
    });
    response.forEach((id, t) => {
      inputIds[row + P + t] = id;
      attention[row + P + t] = 1;
      responses[b * R + t] = id;
      mask[b * R + t] = 1;
    });
    endedWithEos.push(response.at(-1) === tokenizer.eosId);
  }

  // 2. Log-probs of the policy (old) and the reference, values, entropy — no gradients.
  const stats = tf.tidy(() => {
    const t = tensorsOf({
      batch,
      promptLength: P,
      responseLength: R,
      inputIds,
      attention,
      responses,
    } as Rollout);
    const policy = responseStats(
      o.learner,
      t.inputIds,
      t.attention,
      t.responses,
      P,
      config.temperature,
      true,
    );
    const ref = responseStats(
      { policy: o.reference },
      t.inputIds,
      t.attention,
      t.responses,
      P,
      config.temperature,
      false,
    );
    return [policy.logprobs, ref.logprobs, policy.values!, policy.entropy].map(
      (x) => x.dataSync() as Float32Array,
    );
  });

  // 3. Scores of prompt + response (the score is computed on the truncated text); a penalty when a
  //    response did not end.
  const texts = generated.tokens.map((t) => tokenizer.decode(t, { skipSpecial: true }));
  const rawScores = o.score(
    promptIds.map((p, b) => [...p, ...generated.tokens[b]!]),
    texts,
  );
  const scores = rawScores.map((s, b) =>
    endedWithEos[b] || !config.stopAtEos ? s : s - config.missingEosPenalty,
  );

  return {
    batch,
    promptLength: P,
    responseLength: R,
    inputIds,
    attention,
    responses,
    mask,
    logprobs: stats[0]!,
    refLogprobs: stats[1]!,
    values: stats[2]!,
    entropy: stats[3]!,
    scores,
    endedWithEos,
    prompts,
    texts,
  };
}

/** Statistics of one PPO micro-batch (TRL's names in the metrics). */
interface PpoStats {
  approxKl: number;
  clipFrac: number;
  pgLoss: number;
  vLoss: number;
  vClipFrac: number;
  entropy: number;
  ratio: number;
  ratioVar: number;
}

/** The value function is a head on the policy unless a separate value model (from the reward model) is asked for. */
const useHeadFor = (config: PpoConfig) => config.valueModel === "head";

export async function trainPpo(config: PpoConfig, ctx: JobContext): Promise<RunSummary> {
  // 0. Models: policy (+ value head or a separate value model), frozen reference, frozen reward model.
  const policyDir = await ctx.resolveCheckpoint(config.policy);
  const rewardDir = config.rewardModel ? await ctx.resolveCheckpoint(config.rewardModel) : undefined;
  if (!useHeadFor(config) && !rewardDir)
    throw new JobInputError('valueModel "reward" needs a rewardModel to start the value model from');
  const resumeDir = ctx.resumeFrom?.path;
  const useHead = useHeadFor(config);
  const policyCkpt = await loadCheckpoint(resumeDir ?? policyDir, {
    valueHead: useHead,
    withOptimizer: resumeDir !== undefined,
  });
  const reference = (await loadCheckpoint(policyDir, { trainable: false })).model;
  const rm = rewardDir ? await loadCheckpoint(rewardDir, { rewardHead: true, trainable: false }) : undefined;
  const valueModel = useHead
    ? undefined
    : (
        await loadCheckpoint(resumeDir ? path.join(resumeDir, "value_model") : rewardDir!, {
          rewardHead: true,
        })
      ).model;
  const { tokenizer } = policyCkpt;
  const policy = policyCkpt.model;
  const disposeAll = () => {
    for (const m of [policy, reference, rm?.model, valueModel]) m?.dispose();
    if (policyCkpt.optimizerState) for (const t of policyCkpt.optimizerState.values()) t.dispose();
  };

  try {
    let score: Scorer;
    if (rm) {
      if (rm.tokenizer.vocabSize !== tokenizer.vocabSize || rm.tokenizer.eosId !== tokenizer.eosId) {
        throw new JobInputError(
          `the reward model's tokenizer (${rm.tokenizer.vocabSize} tokens) is not the policy's (${tokenizer.vocabSize}); train the reward model from this policy's SFT checkpoint`,
        );
      }
      if (!rm.rewardNormalization) ctx.log("the reward model has no normalisation; using raw scores", "warn");
      score = (sequences) =>
        rewardScores(rm.model, sequences, tokenizer.padId).map((s) =>
          applyNormalization(s, rm.rewardNormalization),
        );
    } else {
      const fn = rewardFunction(config.rewardFunction!);
      score = (_sequences, responses) => responses.map(fn);
    }
    const prompts = await loadPrompts(ctx.database, config.prompts, "train");
    if (prompts.length === 0)
      throw new JobInputError(`prompts dataset "${config.prompts}" has no training prompts`);

    const params = new Map<string, tf.Variable>();
    for (const [name, v] of policy.params) params.set(`policy/${name}`, v);
    if (valueModel) for (const [name, v] of valueModel.params) params.set(`value/${name}`, v);
    const learner: Learner = { policy, valueModel, params };
    // Only a resumed PPO run continues a count; the SFT checkpoint's own trainer state is not ours.
    const resumedState = resumeDir ? policyCkpt.trainerState : undefined;
    const startIteration = resumedState?.step ?? 0;
    const kl = new KlController(
      Number(resumedState?.data?.klCoef ?? config.klCoef),
      config.adaptiveKl,
      config.klTarget,
      config.klHorizon,
    );
    const B = config.rolloutBatchSize;
    const miniBatchSize = Math.max(1, Math.floor(B / config.miniBatches));
    const miniBatchesPerEpoch = Math.floor(B / miniBatchSize);
    if (config.gradAccumSteps > miniBatchSize) {
      throw new JobInputError(
        `gradAccumSteps ${config.gradAccumSteps} splits minibatches of ${miniBatchSize} rollouts into empty micro-batches; use at most ${miniBatchSize}`,
      );
    }

    /** One rollout, its advantages and the minibatch order of every epoch: all an iteration's updates need. */
    const prepare = async (iteration: number) => {
      const seed = hashSeed(config.seed, `ppo/${iteration}`);
      const random = mulberry32(seed);

      // 1–2. Rollout and scores.
      const rolloutStart = performance.now();
      const batchPrompts = Array.from({ length: B }, () => prompts[Math.floor(random() * prompts.length)]!);
      const r = await rollout({ learner, reference, score, tokenizer, config }, batchPrompts, seed);
      const rolloutSeconds = (performance.now() - rolloutStart) / 1000;
      const { responseLength: R, mask } = r;

      // 3. Per-token rewards: KL penalty everywhere, the score at the last real token.
      const klTokens = klPerToken(r.logprobs, r.refLogprobs, config.klEstimator);
      const nonScore = new Float32Array(B * R);
      let rewards: Float32Array = new Float32Array(B * R);
      for (let b = 0; b < B; b++) {
        let lastReal = -1;
        for (let t = 0; t < R; t++) {
          const i = b * R + t;
          if (!mask[i]) continue;
          nonScore[i] = -kl.value * klTokens[i]!;
          rewards[i] = nonScore[i]!;
          lastReal = i;
        }
        if (lastReal >= 0) rewards[lastReal] = rewards[lastReal]! + r.scores[b]!;
      }
      // Reward whitening (optional) keeps the mean: it rescales without changing the sign of the signal.
      if (config.whitenRewards) rewards = maskedWhiten(rewards, mask, false);

      // 4. Advantages by GAE, whitened; returns are the value targets.
      const gae = computeGae(rewards, r.values, mask, B, R, config.gamma, config.lam);
      const advantages = config.whitenAdvantages ? maskedWhiten(gae.advantages, mask) : gae.advantages;
      // 5. The shuffled order of each PPO epoch (drawn after the rollout's prompts, from the same stream).
      const orders = Array.from({ length: config.ppoEpochs }, () => permutation(B, random));
      return { r, klTokens, nonScore, gae, advantages, orders, rolloutSeconds };
    };

    /** The clipped policy and value losses on some rows of the rollout, and their gradients. */
    const microStep = (
      iteration: number,
      p: Awaited<ReturnType<typeof prepare>>,
      rows: number[],
    ): MicroStep<PpoStats> => {
      const { r } = p;
      const R = r.responseLength;
      const t = tensorsOf(r, rows);
      const old = {
        logprobs: tf.tensor2d(t.pick(r.logprobs), [t.b, R]),
        values: tf.tensor2d(t.pick(r.values), [t.b, R]),
        advantages: tf.tensor2d(t.pick(p.advantages), [t.b, R]),
        returns: tf.tensor2d(t.pick(p.gae.returns), [t.b, R]),
        mask: tf.tensor2d(t.pick(r.mask), [t.b, R]),
      };
      let observed: tf.Tensor[] = [];
      let grads: Map<string, tf.Tensor>;
      try {
        ({ grads } = lossAndGradientsByName(params, () => {
          const now = responseStats(
            learner,
            t.inputIds,
            t.attention,
            t.responses,
            r.promptLength,
            config.temperature,
            true,
          );
          const count = tf.maximum(tf.sum(old.mask), 1);
          const masked = (x: tf.Tensor) => tf.div(tf.sum(tf.mul(x, old.mask)), count);
          const logRatio = tf.sub(now.logprobs, old.logprobs);
          const ratio = tf.exp(logRatio);
          // Clipped policy loss.
          const pgLoss1 = tf.mul(tf.neg(old.advantages), ratio);
          const pgLoss2 = tf.mul(
            tf.neg(old.advantages),
            tf.clipByValue(ratio, 1 - config.clipRange, 1 + config.clipRange),
          );
          const pgLoss = masked(tf.maximum(pgLoss1, pgLoss2));
          // Clipped value loss.
          const vPred = now.values!;
          const vPredClipped = tf.add(
            old.values,
            tf.clipByValue(tf.sub(vPred, old.values), -config.clipRangeValue, config.clipRangeValue),
          );
          const vLoss1 = tf.square(tf.sub(vPred, old.returns));
          const vLoss2 = tf.square(tf.sub(vPredClipped, old.returns));
          const vLoss = tf.mul(0.5, masked(tf.maximum(vLoss1, vLoss2)));
          // Diagnostics, kept outside the gradient tape's tidy.
          observed = [
            masked(tf.mul(0.5, tf.square(logRatio))),
            masked(tf.cast(tf.greater(tf.abs(tf.sub(ratio, 1)), config.clipRange), "float32")),
            pgLoss,
            vLoss,
            masked(tf.cast(tf.greater(vLoss2, vLoss1), "float32")),
            masked(now.entropy),
            masked(ratio),
            masked(tf.square(tf.sub(ratio, masked(ratio)))),
          ].map((x) => tf.keep(tf.clone(x)));
          return tf.add(pgLoss, tf.mul(config.valueLossCoef, vLoss)) as tf.Scalar;
        }));
      } finally {
        tf.dispose([t.inputIds, t.attention, t.responses, ...Object.values(old)]);
      }
      const [approxKl, clipFrac, pg, vl, vClip, ent, ratioMean, ratioVar] = observed.map(
        (x) => x.dataSync()[0]!,
      ) as [number, number, number, number, number, number, number, number];
      tf.dispose(observed);
      if (!Number.isFinite(pg) || !Number.isFinite(vl)) {
        tf.dispose([...grads.values()]);
        throw new NonFiniteLossError(
          `PPO loss is not finite at iteration ${iteration + 1} (policy ${pg}, value ${vl}); stopping without saving`,
        );
      }
      return {
        loss: pg + config.valueLossCoef * vl,
        grads,
        stats: {
          approxKl,
          clipFrac,
          pgLoss: pg,
          vLoss: vl,
          vClipFrac: vClip,
          entropy: ent,
          ratio: ratioMean,
          ratioVar,
        },
      };
    };

    /** TRL's metrics of an iteration; adapts β; stores samples every `sampleEvery` iterations. */
    const iterationMetrics = (p: Awaited<ReturnType<typeof prepare>>, o: StepOutcome<PpoStats>) => {
      const { r, klTokens, nonScore, gae } = p;
      const { responseLength: R, mask } = r;
      const iteration = o.step;
      const perSequence = (x: Float32Array) =>
        Array.from({ length: B }, (_, b) =>
          x.subarray(b * R, (b + 1) * R).reduce((s, v, t) => s + v * mask[b * R + t]!, 0),
        );
      const klSum = perSequence(klTokens);
      const nonScoreSum = perSequence(nonScore);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
      const stat = (key: keyof PpoStats) => mean(o.stats.map((s) => s[key]));
      const meanKl = mean(klSum);
      const meanScore = mean(r.scores);
      const oracle = r.texts.map((text) => oracleScore(text));
      const metrics = {
        "objective/kl": meanKl,
        "objective/entropy": mean(perSequence(r.entropy)),
        "objective/non_score_reward": mean(nonScoreSum),
        "objective/rlhf_reward": meanScore + mean(nonScoreSum),
        "objective/scores": meanScore,
        "objective/kl_coef": kl.value,
        "objective/oracle_score": mean(oracle),
        "policy/approxkl_avg": stat("approxKl"),
        "policy/clipfrac_avg": stat("clipFrac"),
        "policy/entropy_avg": stat("entropy"),
        "loss/policy_avg": stat("pgLoss"),
        "loss/value_avg": stat("vLoss"),
        "val/clipfrac_avg": stat("vClipFrac"),
        "val/ratio": stat("ratio"),
        "val/ratio_var": stat("ratioVar"),
        "val/num_eos_tokens": r.endedWithEos.filter(Boolean).length,
        "val/mean_response_length": o.tokens / B,
        "val/advantages_mean": maskedMean(gae.advantages, mask),
        episode: iteration * B,
        "time/rollout_seconds": p.rolloutSeconds,
        "time/update_seconds": o.seconds - p.rolloutSeconds,
      };
      kl.update(meanKl, B);
      if (iteration % config.sampleEvery === 0 || iteration === config.iterations || iteration === 1) {
        for (let b = 0; b < Math.min(4, B); b++) {
          ctx.telemetry.sample({
            step: iteration,
            prompt: r.prompts[b]!,
            response: r.texts[b]!,
            reward: r.scores[b],
            kl: klSum[b],
            extra: { oracle_score: oracle[b], ended: r.endedWithEos[b] },
          });
        }
        ctx.log(
          `iteration ${iteration}: score ${meanScore.toFixed(3)}, KL ${meanKl.toFixed(3)}, oracle ${mean(oracle).toFixed(2)}`,
        );
      }
      return metrics;
    };

    // The loop: a step is an iteration (rollout, then epochs × minibatches of updates, each of
    // gradAccumSteps micro-batches); the learning rate is annealed linearly over iterations.
    let current: Awaited<ReturnType<typeof prepare>> | undefined;
    const result = await runTrainingLoop<PpoStats>({
      kind: "ppo",
      ctx,
      model: policy,
      tokenizer,
      params,
      decays: (name, v) => v.rank >= 2 && !name.includes("v_head"),
      optim: config,
      schedule: "linear",
      totalSteps: config.iterations,
      startStep: startIteration,
      optimizerState: policyCkpt.optimizerState,
      optimizerSteps: Number(
        resumedState?.data?.optimizerSteps ?? startIteration * config.ppoEpochs * miniBatchesPerEpoch,
      ),
      plan: async (iteration) => {
        const p = await prepare(iteration);
        current = p;
        const generatedTokens = p.r.mask.reduce((a, b) => a + b, 0);
        return {
          updates: config.ppoEpochs * miniBatchesPerEpoch,
          tokens: generatedTokens,
          microStep: (update, micro) => {
            const order = p.orders[Math.floor(update / miniBatchesPerEpoch)]!;
            const start = (update % miniBatchesPerEpoch) * miniBatchSize;
            const split = (k: number) => start + Math.floor((k * miniBatchSize) / config.gradAccumSteps);
            return microStep(iteration, p, order.slice(split(micro), split(micro + 1)));
          },
        };
      },
      metrics: (o) => iterationMetrics(current!, o),
      checkpointEvery: config.checkpointEvery,
      checkpointPrefix: "iter",
      checkpointData: () => ({ klCoef: kl.value }),
      saveWith: async (dir) => {
        if (valueModel) await saveCheckpoint(path.join(dir, "value_model"), valueModel, tokenizer);
      },
    });
    const { last } = result;
    return {
      iterations: result.steps,
      "objective/scores": last["objective/scores"] ?? null,
      "objective/kl": last["objective/kl"] ?? null,
      "objective/oracle_score": last["objective/oracle_score"] ?? null,
      kl_coef: kl.value,
    };
  } finally {
    disposeAll();
  }
}
