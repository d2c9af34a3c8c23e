import { z } from "zod";
import { commonSchema, optimSchema, withDefault, workersSchema } from "./common";
import { refineRlLora } from "./grpo";
import { loraField } from "./lora";
import { checkpointFrom, datasetName } from "./refs-meta";
import { evaluationRewardsSchema, refineRewardSpec, rewardsSchema } from "./rewards";

/**
 * Stage 4: PPO against a reward model, following "The N implementation details of RLHF with PPO"
 * (Huang et al.) and TRL's PPOTrainer. Every detail is a field.
 */
export const ppoConfigSchema = z
  .object({
    ...commonSchema.shape,
    ...optimSchema.shape,
    learningRate: withDefault(optimSchema.shape.learningRate, 3e-5),
    minLearningRate: optimSchema.shape.minLearningRate
      .default(0)
      .describe("learning rate annealed linearly to this by the last update"),
    warmupSteps: withDefault(
      optimSchema.shape.warmupSteps,
      0,
      "iterations of linear warm-up from 0 to the peak learning rate, before the linear annealing",
    ),
    gradAccumSteps: withDefault(
      optimSchema.shape.gradAccumSteps,
      1,
      "micro-batches each minibatch is split into; their gradients are averaged into one update (less memory, same update)",
    ),
    weightDecay: withDefault(optimSchema.shape.weightDecay, 0),
    epsilon: optimSchema.shape.epsilon
      .default(1e-5)
      .describe("Adam ε (1e-5 as in the N+ implementation details)"),
    workers: workersSchema,
    lora: loraField,
    policy: checkpointFrom(["sft", "ppo", "dpo", "grpo", "rloo"]).describe(
      "the SFT checkpoint: starting policy and frozen reference (an SFT LoRA adapter is merged into its base at load)",
    ),
    rewardModel: checkpointFrom(["reward"])
      .optional()
      .describe(
        "the reward model checkpoint (frozen), scored at the last token and normalised; with rewards, it is one more term of weight 1",
      ),
    rewardFunction: z
      .string()
      .regex(/^(sentiment|contains:.+)$/, 'expected "sentiment" or "contains:<text>"')
      .optional()
      .describe(
        'shorthand for one reward function: "sentiment" (AFINN score of the response) or "contains:<text>" (occurrences of text)',
      ),
    rewards: rewardsSchema
      .optional()
      .describe(
        "reward functions added to the reward model's score (or used without one): [{ function, params?, weight?, normalize?, name? }], as GRPO's",
      ),
    evaluation: evaluationRewardsSchema,
    prompts: datasetName("prompts").default("demo-prompts").describe("prompts dataset to roll out on"),
    valueModel: z
      .enum(["head", "reward"])
      .default("head")
      .describe(
        "head: a value head on the policy, initialised to zero; reward: a separate value model initialised from the reward model (TRL)",
      ),
    iterations: z.number().int().min(1).default(100).describe("PPO iterations (rollout + update)"),
    rolloutBatchSize: z.number().int().min(1).default(32).describe("prompts per rollout"),
    miniBatches: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe("minibatches per PPO epoch (the rollout is split into this many)"),
    ppoEpochs: z
      .number()
      .int()
      .min(1)
      .default(4)
      .describe("passes over each rollout, reshuffled every epoch"),
    responseLength: z.number().int().min(1).default(24).describe("new tokens per response"),
    temperature: z
      .number()
      .positive()
      .default(0.7)
      .describe("rollout temperature; logits are divided by it in the rollout and in the update"),
    stopAtEos: z
      .boolean()
      .default(true)
      .describe(
        "truncate each response after its first end-of-text token; the score is computed on the truncated text",
      ),
    missingEosPenalty: z
      .number()
      .min(0)
      .default(1)
      .describe("subtracted from the score of a response that did not end (0 = none)"),
    klEstimator: z
      .enum(["k1", "k3"])
      .default("k1")
      .describe("per-token KL estimator: k1 = log π/π_ref; k3 = (r−1) − log r, unbiased and non-negative"),
    klCoef: z.number().min(0).default(0.05).describe("initial (or fixed) KL coefficient β"),
    adaptiveKl: z
      .boolean()
      .default(false)
      .describe("adapt β toward a target KL (Ziegler et al.), else keep it fixed"),
    klTarget: z
      .number()
      .positive()
      .default(6)
      .describe("target KL (nats per response) of the adaptive controller"),
    klHorizon: z
      .number()
      .positive()
      .default(10_000)
      .describe("horizon of the adaptive KL controller, in episodes"),
    gamma: z.number().min(0).max(1).default(1).describe("discount γ"),
    lam: z.number().min(0).max(1).default(0.95).describe("GAE λ"),
    clipRange: z.number().positive().default(0.2).describe("policy ratio clip ε"),
    clipRangeValue: z.number().positive().default(0.2).describe("value clip"),
    valueLossCoef: z.number().min(0).default(0.1).describe("weight of the value loss"),
    whitenRewards: z
      .boolean()
      .default(false)
      .describe("whiten rewards per minibatch (without shifting the mean)"),
    whitenAdvantages: z.boolean().default(true).describe("whiten advantages per minibatch"),
    sampleEvery: z.number().int().min(1).default(5).describe("store rollout samples every N iterations"),
    checkpointEvery: z
      .number()
      .int()
      .min(1)
      .default(25)
      .describe("save a checkpoint every N iterations (and at the end)"),
  })
  .refine(
    (c) => c.rewardModel !== undefined || c.rewardFunction !== undefined || (c.rewards?.length ?? 0) > 0,
    {
      path: ["rewardModel"],
      message: "give a reward: rewardModel (a checkpoint), rewards (reward functions), or both",
    },
  )
  .superRefine(refineRewardSpec)
  .superRefine(refineRlLora)
  .describe("PPO: optimise the policy against the reward model with a KL penalty to the SFT model");

export type PpoConfig = z.infer<typeof ppoConfigSchema>;
