import type { NormalizeMode } from "@rlhf/core/configs";
import { JobInputError } from "../../train/context";
import type { Tokenizer } from "../../tokenizer";

/**
 * What a reward function receives besides the texts (TRL passes the same as keyword arguments:
 * `completion_ids`, `trainer_state`, the dataset's columns).
 */
export interface RewardExtra {
  /** Token ids of each prompt and each completion (a completion ends with end-of-text when it ended). */
  promptIds: number[][];
  completionIds: number[][];
  /** Whether each completion ended with end-of-text (else it was cut at the length limit). */
  ended: boolean[];
  /** The prompt each row answers: rows with the same number form one group of G completions. */
  groups: number[];
  /** The training step (generation round), for rewards that change over training. */
  step: number;
  /** The `params` of this function's term in the config. */
  params: Record<string, unknown>;
}

/** TRL's reward-function signature: one score per completion, in order. */
export type RewardFunction = (
  prompts: string[],
  completions: string[],
  extra: RewardExtra,
) => number[] | Float32Array | Promise<number[] | Float32Array>;

/** One scored batch: row i is completions[i] answering prompts[i]. */
export type RewardBatch = Omit<RewardExtra, "params"> & { prompts: string[]; completions: string[] };

/** A term of the spec, ready to call. */
export interface LoadedReward {
  name: string;
  weight: number;
  normalize: NormalizeMode;
  params: Record<string, unknown>;
  fn: RewardFunction;
  /** Frees what the function holds (a reward model's tensors). */
  dispose?: () => void;
}

export interface RewardSet {
  terms: LoadedReward[];
  dispose(): void;
}

/** What building the functions needs from the trainer. */
export interface RewardEnv {
  /** The policy's tokenizer: a reward model must share it. */
  tokenizer: Tokenizer;
  /** `run:<id>` or a directory → the checkpoint directory (JobContext.resolveCheckpoint). */
  resolveCheckpoint(ref: string): Promise<string>;
  /** Where relative module paths start (launch stores them absolute already); default process.cwd(). */
  cwd?: string;
  log?(message: string, level?: "info" | "warn"): void;
}

/** A reward function failed or returned something unusable: the run stops, naming it and the row. */
export class RewardFunctionError extends JobInputError {
  override name = "RewardFunctionError";
  constructor(
    readonly functionName: string,
    readonly row: number | undefined,
    detail: string,
  ) {
    super(`reward function "${functionName}"${row === undefined ? "" : ` at batch row ${row}`}: ${detail}`);
  }
}
