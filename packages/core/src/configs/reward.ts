import { z } from "zod";
import { cadenceSchema, commonSchema, optimSchema, withDefault, workersSchema } from "./common";
import { loraField } from "./lora";
import { checkpointFrom, datasetName } from "./refs-meta";

/** Stage 3: a reward model trained on preference rankings (Bradley–Terry over chosen/rejected pairs). */
export const rewardConfigSchema = z
  .object({
    ...commonSchema.shape,
    ...optimSchema.shape,
    ...cadenceSchema.shape,
    learningRate: withDefault(optimSchema.shape.learningRate, 1e-4),
    minLearningRate: withDefault(optimSchema.shape.minLearningRate, 0),
    init: checkpointFrom(["sft"]).describe("the SFT checkpoint whose backbone the reward model starts from"),
    datasets: z
      .array(datasetName("preferences"))
      .min(1)
      .default(["demo-preferences"])
      .describe("preference datasets whose rankings to train on"),
    epochs: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe("passes over the rankings (InstructGPT: one; more over-fits)"),
    workers: workersSchema,
    batchSize: z
      .number()
      .int()
      .min(1)
      .default(8)
      .describe("rankings per batch; all pairs of a ranking share one forward pass per completion"),
    maxLength: z
      .number()
      .int()
      .min(8)
      .max(8192)
      .default(128)
      .describe("longest prompt+response in tokens; longer pairs are filtered out, not truncated"),
    marginFromStrength: z
      .boolean()
      .default(false)
      .describe("use the annotator's strength (slightly/much better) as the margin in −log σ(r_c − r_r − m)"),
    centerRewardsCoefficient: z
      .number()
      .min(0)
      .default(0)
      .describe("coefficient of the centering term mean((r_c + r_r)²); TRL recommends 0.01"),
    evalFraction: z.number().gt(0).lt(1).default(0.1).describe("share of rankings held out for evaluation"),
    normalizeSamples: z
      .number()
      .int()
      .min(0)
      .default(64)
      .describe(
        "samples of the SFT model used to normalise rewards to mean 0, std 1 after training (0 = none)",
      ),
    lora: loraField,
  })
  .describe("Reward model: learns to score responses the way the rankings do");

export type RewardConfig = z.infer<typeof rewardConfigSchema>;
