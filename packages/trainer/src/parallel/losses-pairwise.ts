/**
 * The losses of the trainers that compare sequences — the reward model's Bradley–Terry loss over a
 * ranking's pairs and DPO's loss over chosen/rejected pairs — written once for this thread and for the
 * data-parallel workers (which import them by name, see ./index.ts and ./losses.ts).
 *
 * A batch element is one ranking (reward model) or one pair (DPO): the workers split the elements, never
 * a ranking's completions or a pair's two sides. The main thread averages the shards weighted by their
 * elements, so DPO's mean over pairs is exact as it is; the reward model's loss is a sum weighted per pair
 * over the whole batch (a mean over rankings of the mean over each ranking's pairs), so a shard scales
 * its part by elements / shard elements (`options.rows`), as languageModelLoss does with tokens.
 */
import * as tf from "@tensorflow/tfjs";
import type { LmBatch } from "../data";
import type { GPT } from "../model/gpt";
import { lastTokenScores } from "../rl/reward-model";
import { sequenceLogProbs } from "../rl/sequence-logprobs";
import type { ShardLoss } from "./losses";
import type { HostTensor } from "./protocol";

// ---- Reward model ----

/** The pairs of a batch over its scored sequences; weight = the pair's share of the batch loss. */
export interface WeightedPairs {
  pairs: { chosen: number; rejected: number; margin: number; weight: number }[];
}

export interface PairwiseLossOptions {
  /** Subtract each pair's margin (the annotator's strength) inside the sigmoid. */
  marginFromStrength: boolean;
  /** Coefficient of the centering term Σ w (r_c + r_r)² (TRL's center_rewards_coefficient). */
  centerRewardsCoefficient: number;
}

/**
 * The batch loss from the rewards r [U] of its scored sequences:
 * Σ_pairs w · (−log σ(r_c − r_r − m)) + c · Σ_pairs w · (r_c + r_r)². −log σ(x) is softplus(−x);
 * r_c and r_r are picked with one-hot rows (tf.gather has no gradient on wasm).
 */
export function pairwiseLoss(
  rewards: tf.Tensor1D,
  batch: WeightedPairs,
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

/** A ranking as the workers get it: its completions' token ids and its pairs (indices into them). */
export interface RankingRows {
  completions: number[][];
  pairs: { chosen: number; rejected: number; margin: number }[];
}

/**
 * Rankings → the reward model's data-parallel batch, one row per ranking: `ids` [R, K, T] (K the most
 * completions of a ranking, T the longest; padded), `last` [R, K] (each completion's last token), and
 * the pairs [R, P] as `chosen`, `rejected` (indices into the row's completions), `margin` and `weight`
 * (1 / (R × the ranking's pairs); 0 on padding), as rewardBatch weighs them.
 */
export function rankingRowsBatch(rankings: RankingRows[], padId: number): Record<string, HostTensor> {
  const R = rankings.length;
  const K = Math.max(...rankings.map((r) => r.completions.length));
  const P = Math.max(...rankings.map((r) => r.pairs.length));
  const T = Math.max(...rankings.flatMap((r) => r.completions.map((c) => c.length)));
  const ids = new Int32Array(R * K * T).fill(padId);
  const last = new Int32Array(R * K);
  const [chosen, rejected] = [new Int32Array(R * P), new Int32Array(R * P)];
  const [margin, weight] = [new Float32Array(R * P), new Float32Array(R * P)];
  rankings.forEach((ranking, r) => {
    ranking.completions.forEach((c, k) => {
      ids.set(c, (r * K + k) * T);
      last[r * K + k] = c.length - 1;
    });
    ranking.pairs.forEach((pair, i) => {
      chosen[r * P + i] = pair.chosen;
      rejected[r * P + i] = pair.rejected;
      margin[r * P + i] = pair.margin;
      weight[r * P + i] = 1 / (R * ranking.pairs.length);
    });
  });
  const int = (values: Int32Array, shape: number[]): HostTensor => ({ values, shape, dtype: "int32" });
  const float = (values: Float32Array): HostTensor => ({ values, shape: [R, P], dtype: "float32" });
  return {
    ids: int(ids, [R, K, T]),
    last: int(last, [R, K]),
    chosen: int(chosen, [R, P]),
    rejected: int(rejected, [R, P]),
    margin: float(margin),
    weight: float(weight),
  };
}

/**
 * The reward model's loss on a shard of rankingRowsBatch rows (options: PairwiseLossOptions and `rows`,
 * the whole batch's rankings); per-row output `scores` [R, K], each completion's reward.
 */
export const rewardModelLoss: ShardLoss = (model, batch, options) => {
  const { ids, last, chosen, rejected, margin, weight } = batch as Record<string, tf.Tensor>;
  if (!ids || !last || !chosen || !rejected || !margin || !weight)
    throw new Error("rewardModelLoss: the batch needs ids, last, chosen, rejected, margin and weight");
  const [R, K, T] = ids.shape as [number, number, number];
  const P = chosen.shape[1] as number;
  const [c, r, m, w] = [chosen, rejected, margin, weight].map((t) => t.dataSync() as ArrayLike<number>) as [
    ArrayLike<number>,
    ArrayLike<number>,
    ArrayLike<number>,
    ArrayLike<number>,
  ];
  const pairs: WeightedPairs["pairs"] = [];
  for (let row = 0; row < R; row++) {
    for (let i = row * P; i < (row + 1) * P; i++) {
      if (w[i] === 0) continue;
      pairs.push({ chosen: row * K + c[i]!, rejected: row * K + r[i]!, margin: m[i]!, weight: w[i]! });
    }
  }
  const scores = tf.tidy(() =>
    lastTokenScores(model, ids.reshape([R * K, T]) as tf.Tensor2D, Array.from(last.dataSync())),
  );
  const loss = tf.tidy(
    () =>
      tf.mul(
        pairwiseLoss(scores, { pairs }, options as unknown as PairwiseLossOptions),
        (options.rows as number) / R,
      ) as tf.Scalar,
  );
  return { loss, rows: { scores: scores.reshape([R, K]) } };
};

// ---- DPO ----

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

/**
 * A batch of B pairs for the policy: `batch` holds the B chosen conversations, then the B rejected ones
 * (2B rows, TRL's concatenated forward); `scale*` divide each side's log-prob (its response tokens for
 * IPO's per-token means, else 1), and `ref*` are the reference's log-probs, already divided.
 */
export interface DpoBatch {
  batch: LmBatch;
  scaleChosen: Float32Array;
  scaleRejected: Float32Array;
  refChosen: Float32Array;
  refRejected: Float32Array;
}

/** DPO's per-pair tensors for `policy` on `b` (differentiable in the policy). */
export function dpoForward(policy: GPT, b: DpoBatch, o: DpoLossOptions) {
  return tf.tidy(() => {
    const n = b.scaleChosen.length;
    const sums = sequenceLogProbs(policy, b.batch).sum; // [2B]
    const policyChosen = tf.slice(sums, 0, n) as tf.Tensor1D;
    const policyRejected = tf.slice(sums, n, n) as tf.Tensor1D;
    const out = dpoLosses(
      {
        policyChosen: tf.div(policyChosen, tf.tensor1d(b.scaleChosen)),
        policyRejected: tf.div(policyRejected, tf.tensor1d(b.scaleRejected)),
        refChosen: tf.tensor1d(b.refChosen),
        refRejected: tf.tensor1d(b.refRejected),
      },
      o,
    );
    return { ...out, policyChosen, policyRejected };
  });
}

/** The names of dpoForward's per-pair outputs, in the order the trainer's statistics read them. */
export const DPO_ROW_OUTPUTS = [
  "losses",
  "chosenRewards",
  "rejectedRewards",
  "policyChosen",
  "policyRejected",
] as const;

/** A DpoBatch as the workers get it: one row per pair (its chosen and rejected sides in their own tensors). */
export function dpoRowsBatch(b: DpoBatch): Record<string, HostTensor> {
  const { batch } = b;
  const n = b.scaleChosen.length;
  const half = n * batch.length;
  const shape = [n, batch.length];
  const side = (from: number) => ({
    x: { values: batch.x.slice(from, from + half), shape, dtype: "int32" } as HostTensor,
    y: { values: batch.y.slice(from, from + half), shape, dtype: "int32" } as HostTensor,
    mask: {
      values: (batch.mask as Float32Array).slice(from, from + half),
      shape,
      dtype: "float32",
    } as HostTensor,
  });
  const [chosen, rejected] = [side(0), side(half)];
  const column = (values: Float32Array): HostTensor => ({ values, shape: [n], dtype: "float32" });
  return {
    chosenIds: chosen.x,
    chosenTargets: chosen.y,
    chosenMask: chosen.mask,
    rejectedIds: rejected.x,
    rejectedTargets: rejected.y,
    rejectedMask: rejected.mask,
    scaleChosen: column(b.scaleChosen),
    scaleRejected: column(b.scaleRejected),
    refChosen: column(b.refChosen),
    refRejected: column(b.refRejected),
  };
}

/** DPO's loss (the mean over the shard's pairs) on dpoRowsBatch rows; options: DpoLossOptions. */
export const dpoLoss: ShardLoss = (model, t, options) => {
  const read = (key: string) => {
    const tensor = t[key];
    if (!tensor) throw new Error(`dpoLoss: the batch needs ${key}`);
    return tensor.dataSync();
  };
  const [n, length] = (t.chosenIds as tf.Tensor).shape as [number, number];
  const joined = <A extends Int32Array | Float32Array>(a: A, b: A): A => {
    const out = new (a.constructor as new (size: number) => A)(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  };
  const x = joined(read("chosenIds") as Int32Array, read("rejectedIds") as Int32Array);
  const mask = joined(read("chosenMask") as Float32Array, read("rejectedMask") as Float32Array);
  const batch: LmBatch = {
    x,
    y: joined(read("chosenTargets") as Int32Array, read("rejectedTargets") as Int32Array),
    mask,
    batchSize: 2 * n,
    length,
    tokens: mask.reduce((a, b) => a + b, 0),
  };
  const out = dpoForward(
    model,
    {
      batch,
      scaleChosen: read("scaleChosen") as Float32Array,
      scaleRejected: read("scaleRejected") as Float32Array,
      refChosen: read("refChosen") as Float32Array,
      refRejected: read("refRejected") as Float32Array,
    },
    options as unknown as DpoLossOptions,
  );
  return { loss: tf.mean(out.losses) as tf.Scalar, rows: out };
};
