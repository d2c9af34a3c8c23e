/**
 * Every metric key the trainers write: who writes it, what it measures, and TRL's key for the same quantity
 * when TRL logs one. docs/reference/metrics.md is generated from this (`pnpm docs:metrics`), and a test reads
 * the keys out of the trainers' sources and fails on one missing here.
 *
 * A key borrowed from TRL means what it means in TRL: `trl` names the TRL trainer and key it was checked
 * against (TRL prefixes eval metrics with `eval_` where we write `eval/`).
 */

/** The job kinds that write metrics (a serve run writes none). */
export type MetricWriter = "pretrain" | "sft" | "reward" | "dpo" | "ppo" | "grpo" | "rloo" | "generate";

export interface MetricDefinition {
  /** The key, or keys written together and described once. `<name>` stands for any name (a reward function's). */
  keys: readonly string[];
  meaning: string;
  /** TRL's key(s) for the same quantity, and which TRL trainer logs them; absent when TRL has none. */
  trl?: string;
}

export interface MetricGroup {
  /** The section of docs/reference/metrics.md (its anchor is linked from other pages: keep titles stable). */
  title: string;
  writers: readonly MetricWriter[];
  /** When they are written and over what, for the whole section. */
  about?: string;
  metrics: readonly MetricDefinition[];
}

const LOOP_WRITERS = ["pretrain", "sft", "reward", "dpo", "ppo", "grpo", "rloo"] as const;

export const metricGroups = [
  {
    title: "Every trainer that takes optimiser steps",
    writers: LOOP_WRITERS,
    about:
      "Written by the one training loop (`train/loop.ts`) every `logEvery` steps for pretraining, SFT, the reward model and DPO, and once per iteration (round) for PPO, GRPO and RLOO.",
    metrics: [
      {
        keys: ["loss"],
        meaning: "the trainer's objective on the step's batch (below, per trainer)",
        trl: "`loss` (every trainer)",
      },
      {
        keys: ["lr"],
        meaning:
          "learning rate used for the step (warm-up, then cosine decay; PPO, GRPO, RLOO: linear decay to `minLearningRate`)",
        trl: "`learning_rate` (Trainer); `lr` (PPOTrainer)",
      },
      {
        keys: ["grad_norm"],
        meaning:
          "global L2 norm of the gradients before clipping to `gradClip` (PPO, GRPO, RLOO: the mean over the iteration's updates)",
        trl: "`grad_norm` (Trainer)",
      },
      {
        keys: ["epoch"],
        meaning: "reward model and DPO: passes over the training rankings or pairs so far (fractional)",
        trl: "`epoch` (Trainer)",
      },
      {
        keys: ["perf/tokens_per_sec"],
        meaning:
          "tokens per second of the step (LM: tokens in the batch; reward/DPO: padded tokens forwarded; PPO, GRPO, RLOO: generated completion tokens over the whole iteration)",
      },
      {
        keys: ["perf/step_seconds"],
        meaning: "wall time of the step (an iteration for PPO, GRPO and RLOO), in seconds",
      },
    ],
  },
  {
    title: "Pretraining and SFT",
    writers: ["pretrain", "sft"],
    metrics: [
      {
        keys: ["loss"],
        meaning:
          "mean next-token cross-entropy in nats over the counted tokens (SFT: the response tokens and their end-of-text only)",
        trl: "`loss` (SFTTrainer)",
      },
      {
        keys: ["eval/loss"],
        meaning:
          "the same on `evalBatches` batches of the held-out split, every `evalEvery` steps and at the end",
        trl: "`eval_loss` (SFTTrainer)",
      },
      {
        keys: ["eval/mean_token_accuracy"],
        meaning: "share of held-out counted tokens whose most likely prediction is the actual next token",
        trl: "`eval_mean_token_accuracy` (SFTTrainer)",
      },
      {
        keys: ["eval/bits_per_byte"],
        meaning:
          "pretraining and SFT: `eval/loss` ÷ ln 2 × (held-out tokens ÷ held-out bytes; SFT: of the target tokens the loss counts, the responses with `completionOnlyLoss`) — the cost of the held-out text, in bits per UTF-8 byte, with the model as a compressor ([concepts.md](../concepts.md#a-language-model-is-a-compressor))",
      },
      {
        keys: ["eval/ngram_bits_per_byte"],
        meaning:
          "pretraining and SFT, once before the first step (at step 0, or the step a resumed run starts from): the n-gram baseline, a 5-gram interpolated modified Kneser–Ney model trained on the run's training tokens, scored on the same held-out batches as `eval/bits_per_byte` ([compression.md](../compression.md#the-n-gram-baseline)); the run page draws it as a line across the `eval/bits_per_byte` chart",
      },
      {
        keys: ["compress/bits_per_byte", "compress/gzip_bits_per_byte", "compress/bytes"],
        meaning:
          "pretraining and SFT, at the end of a finished run: the final model as a lossless compressor (`rlhf compress`, header included) of the first 16 KB of the held-out texts, a text per line, beside gzip -9 on the same bytes, and how many bytes ([compression.md](../compression.md#in-the-dashboard))",
      },
    ],
  },
  {
    title: "Reward model",
    writers: ["reward"],
    metrics: [
      {
        keys: ["loss"],
        meaning:
          "Bradley–Terry loss, averaged per ranking then over the batch (with the optional margin and centering term)",
        trl: "`loss` (RewardTrainer)",
      },
      {
        keys: ["accuracy"],
        meaning: "share of the batch's pairs whose chosen completion scores higher than the rejected one",
        trl: "`accuracy` (RewardTrainer)",
      },
      {
        keys: ["margin"],
        meaning: "mean r(chosen) − r(rejected) over the batch's pairs",
        trl: "`margin` (RewardTrainer)",
      },
      {
        keys: ["reward/mean", "reward/std", "reward/min", "reward/max"],
        meaning: "raw rewards of the batch's completions",
        trl: "`mean_reward`, `min_reward`, `max_reward` (RewardTrainer; no std)",
      },
      {
        keys: ["eval/loss", "eval/accuracy", "eval/margin"],
        meaning: "the same on held-out rankings; `eval/accuracy` is the figure to choose a reward model by",
        trl: "`eval_loss`, `eval_accuracy`, `eval_margin` (RewardTrainer)",
      },
      {
        keys: ["normalization/gain", "normalization/bias"],
        meaning:
          "written once, at the last step: the affine map that gives the reward mean 0 and standard deviation 1 on SFT samples",
      },
    ],
  },
  {
    title: "DPO",
    writers: ["dpo"],
    metrics: [
      {
        keys: ["loss"],
        meaning:
          "mean DPO (sigmoid) or IPO loss over the step's pairs; log 2 ≈ 0.693 at the first step for sigmoid",
        trl: "`loss` (DPOTrainer)",
      },
      {
        keys: ["rewards/chosen", "rewards/rejected"],
        meaning:
          "mean implicit reward β·(log π(y) − log π_ref(y)) of the chosen and of the rejected responses",
        trl: "the same keys (DPOTrainer)",
      },
      {
        keys: ["rewards/accuracies"],
        meaning: "share of pairs whose chosen implicit reward is higher than the rejected one",
        trl: "the same key (DPOTrainer)",
      },
      {
        keys: ["rewards/margins"],
        meaning: "mean implicit reward of chosen minus rejected",
        trl: "the same key (DPOTrainer)",
      },
      {
        keys: ["logps/chosen", "logps/rejected"],
        meaning: "mean summed log-probability of the chosen and rejected responses under the policy",
        trl: "the same keys (DPOTrainer)",
      },
      {
        keys: [
          "eval/loss",
          "eval/rewards/chosen",
          "eval/rewards/rejected",
          "eval/rewards/accuracies",
          "eval/rewards/margins",
          "eval/logps/chosen",
          "eval/logps/rejected",
        ],
        meaning: "the same on held-out pairs, every `evalEvery` steps and at the end",
        trl: "`eval_loss`, `eval_rewards/chosen`, … (DPOTrainer)",
      },
    ],
  },
  {
    title: "PPO",
    writers: ["ppo"],
    about:
      'Written once per iteration (one rollout batch and its `ppoEpochs` × `miniBatches` updates). "Mean over sequences" is over the `rolloutBatchSize` responses; "token mean" is over the real response tokens of a minibatch, averaged over the iteration\'s minibatch updates. TRL\'s names are PPOTrainer\'s (TRL 0.23, `trl/trainer/ppo_trainer.py`).',
    metrics: [
      {
        keys: ["objective/scores"],
        meaning:
          "mean score of the responses: the reward model's (normalised) or the reward function's, with `missingEosPenalty` applied",
        trl: "the same key",
      },
      {
        keys: ["objective/kl"],
        meaning:
          "mean over sequences of the summed per-token KL estimate (`klEstimator`) between the policy and the reference",
        trl: "the same key",
      },
      {
        keys: ["objective/non_score_reward"],
        meaning: "mean over sequences of the summed KL penalty, −β·KL",
        trl: "the same key",
      },
      {
        keys: ["objective/rlhf_reward"],
        meaning: "`objective/scores` + `objective/non_score_reward`: the quantity PPO maximises",
        trl: "the same key",
      },
      {
        keys: ["objective/kl_coef"],
        meaning: "β used for the iteration (changes only with `adaptiveKl`)",
      },
      {
        keys: ["objective/entropy"],
        meaning:
          "mean over sequences of the summed per-token entropy of the sampling distribution during the rollout",
        trl: "the same key (TRL sums −log π of the sampled tokens, an estimate of the same entropy)",
      },
      {
        keys: ["objective/oracle_score"],
        meaning:
          "mean AFINN sentiment of the responses (the demo's oracle; ground truth for the demo, whatever the reward model says)",
      },
      {
        keys: ["policy/approxkl_avg"],
        meaning:
          "token mean of ½·(log π_new − log π_old)², how far one update moved the policy from the rollout's policy",
        trl: "the same key (TRL's mean also counts padding positions, where the log-ratio is 0)",
      },
      {
        keys: ["policy/clipfrac_avg"],
        meaning:
          "share of tokens where the clipped surrogate is the larger loss (the clip binds: the ratio left [1 − `clipRange`, 1 + `clipRange`] in the direction its advantage pushes), token mean per minibatch update, averaged over the iteration",
        trl: "the same key",
      },
      {
        keys: ["policy/entropy_avg"],
        meaning: "token mean of the policy's entropy during the updates",
        trl: "the same key",
      },
      { keys: ["loss/policy_avg"], meaning: "clipped policy loss", trl: "the same key" },
      {
        keys: ["loss/value_avg"],
        meaning: "clipped value loss (before `valueLossCoef`)",
        trl: "the same key",
      },
      {
        keys: ["val/clipfrac_avg"],
        meaning: "share of tokens where the clipped value prediction gave the larger loss",
        trl: "the same key",
      },
      {
        keys: ["val/ratio"],
        meaning:
          "the probability ratio π_new/π_old: its token mean in each minibatch update, averaged over the iteration",
        trl: "the same key (TRL's mean also counts padding positions, where the log-ratio is 0)",
      },
      {
        keys: ["val/ratio_var"],
        meaning:
          "variance (Bessel-corrected; 0 with a single update) over the iteration's minibatch updates of each update's token-mean ratio: how much the updates disagree, not the spread of the ratio over tokens",
        trl: "the same key (`ratio_stats.var()`)",
      },
      {
        keys: ["val/num_eos_tokens"],
        meaning: "responses in the batch that ended with an end-of-text token",
        trl: "the same key",
      },
      {
        keys: ["val/mean_response_length"],
        meaning: "mean response length in tokens (up to and including the end-of-text)",
      },
      { keys: ["val/advantages_mean"], meaning: "mean advantage before whitening" },
      {
        keys: ["episode"],
        meaning: "responses generated so far (iterations × `rolloutBatchSize`)",
        trl: "the same key",
      },
    ],
  },
  {
    title: "GRPO and RLOO",
    writers: ["grpo", "rloo"],
    about:
      "TRL's GRPOTrainer and RLOOTrainer names, written once per round (one generation batch of `promptsPerIteration` × `numGenerations` completions and its `numIterations` × `miniBatches` updates).",
    metrics: [
      {
        keys: ["loss"],
        meaning:
          "the aggregated loss (`lossType` for GRPO; the clipped sequence loss for RLOO), mean over the round's updates",
        trl: "`loss` (GRPOTrainer, RLOOTrainer)",
      },
      {
        keys: ["reward"],
        meaning:
          "mean over completions of Σ weight · raw score of the `rewards` functions (before any per-function normalisation, as TRL logs it)",
        trl: "the same key",
      },
      {
        keys: ["reward_std"],
        meaning:
          "standard deviation (Bessel-corrected, TRL's `nanstd`) of that raw sum over the round's completions, as TRL logs it",
        trl: "the same key",
      },
      {
        keys: ["frac_reward_zero_std"],
        meaning:
          "share of completions whose group's rewards are all equal: they have advantage 0 and teach nothing",
        trl: "the same key",
      },
      {
        keys: ["rewards/<name>/mean", "rewards/<name>/std"],
        meaning:
          "every function of `rewards` and of `evaluation`, its raw scores before weighting and normalisation (std Bessel-corrected, as TRL)",
        trl: "the same keys",
      },
      {
        keys: ["objective/oracle_score"],
        meaning:
          "with `evaluation` functions: mean over completions of their weighted sum — the gold reward beside the proxy that is optimised (the demo: the AFINN oracle)",
      },
      {
        keys: ["kl"],
        meaning:
          "GRPO with β > 0: masked mean of the k3 estimate of KL(π‖π_ref) per token. RLOO with β > 0: mean over completions of the summed k1 estimate log π_old − log π_ref (the KL in the reward)",
        trl: "the same key",
      },
      {
        keys: ["objective/rlhf_reward"],
        meaning:
          "RLOO: mean of the reward minus β × the completion's KL, what the advantages are computed from",
      },
      {
        keys: ["entropy"],
        meaning: "masked mean of the policy's per-token entropy during the updates",
        trl: "the same key",
      },
      {
        keys: ["num_tokens"],
        meaning: "prompt and completion tokens generated over so far (cumulative, as TRL)",
        trl: "the same key",
      },
      {
        keys: ["completions/mean_length", "completions/min_length", "completions/max_length"],
        meaning: "completion lengths in tokens (up to and including the end-of-text)",
        trl: "the same keys",
      },
      {
        keys: [
          "completions/mean_terminated_length",
          "completions/min_terminated_length",
          "completions/max_terminated_length",
        ],
        meaning: "the same over the completions that ended with end-of-text (0 when none did)",
        trl: "the same keys",
      },
      {
        keys: ["completions/clipped_ratio"],
        meaning: "share of completions cut at `maxCompletionLength` without an end-of-text",
        trl: "the same key",
      },
      {
        keys: ["clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean"],
        meaning:
          'share of loss tokens whose ratio was clipped below 1 − ε with a negative advantage, above 1 + ε_high with a positive one, or either, mean over micro-batches. The ratio is each token\'s (GRPO\'s default), or one per completion: then the share is of completions (RLOO; GRPO with `importanceSamplingLevel: "sequence"`, GSPO — every completion of the micro-batch counts, one without loss tokens as unclipped, as in TRL), or of loss tokens that all carry their completion\'s ratio (`"sequence_token"`)',
        trl: "the same keys",
      },
      {
        keys: ["clip_ratio/low_min", "clip_ratio/high_max"],
        meaning:
          "the smallest low-clipped share and the largest high-clipped share of a completion in the round (0 or 1 when the ratio is the completion's: RLOO, GSPO, GSPO-token)",
        trl: "the same keys",
      },
      { keys: ["episode"], meaning: "completions generated so far" },
    ],
  },
  {
    title: "Timing of PPO, GRPO and RLOO",
    writers: ["ppo", "grpo", "rloo"],
    about:
      "Where each iteration (a PPO iteration, a GRPO/RLOO round) spends its time, in seconds, written with its other metrics; the run page charts them together as the `timing` group. Runs from before these keys logged PPO's `time/rollout_seconds` (generation, reference and scoring) and `time/update_seconds` instead: they show as their own `time` group.",
    metrics: [
      {
        keys: ["timing/generation"],
        meaning: "sampling the rollout's completions (with the KV cache)",
      },
      {
        keys: ["timing/reference"],
        meaning:
          "the forward passes without gradients over the rollout: the policy's log-probs before the update (PPO: with values and entropy) and the reference's",
      },
      {
        keys: ["timing/reward"],
        meaning:
          "scoring the completions: the reward functions and reward model of `rewards`, and the `evaluation` functions",
      },
      {
        keys: ["timing/update"],
        meaning:
          "the rest of the iteration: advantages and the optimiser updates over the rollout (`timing/total` minus the three above)",
      },
      { keys: ["timing/total"], meaning: "the iteration's wall time (`perf/step_seconds`)" },
    ],
  },
  {
    title: "Generating comparisons",
    writers: ["generate"],
    metrics: [
      {
        keys: ["tasks_created"],
        meaning: "comparison tasks created so far (the step is the same count)",
      },
    ],
  },
] as const satisfies readonly MetricGroup[];

/** Every key of the registry (`<name>` parts as written). */
export type MetricKey = (typeof metricGroups)[number]["metrics"][number]["keys"][number];

/** The keys a job kind may write: those of every group it writes. */
export function metricKeysOf(writer: MetricWriter): Set<string> {
  return new Set(
    metricGroups
      .filter((group) => (group.writers as readonly string[]).includes(writer))
      .flatMap((group) => group.metrics.flatMap((metric) => [...metric.keys])),
  );
}

/** Whether `key` is one of `keys`, a `<name>` part matching any one path segment. */
export function matchesMetricKey(keys: Iterable<string>, key: string): boolean {
  for (const pattern of keys) {
    if (pattern === key) return true;
    if (pattern.includes("<")) {
      const regex = new RegExp(
        `^${pattern
          .split(/<[a-z]+>/)
          .map(escapeRegExp)
          .join("[^/]+")}$`,
      );
      if (regex.test(key)) return true;
    }
  }
  return false;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Keys of a run's summary (what a trainer returns, shown on the run's page and by `rlhf runs show`) that look
 * like metric keys: not metrics, listed so that nobody takes them for ones.
 */
export const summaryKeysLikeMetrics = [
  { key: "data/train_tokens", writer: "pretrain", meaning: "tokens in the training split" },
  { key: "normalization/samples", writer: "reward", meaning: "SFT samples used for the normalisation" },
] as const satisfies readonly { key: string; writer: MetricWriter; meaning: string }[];
