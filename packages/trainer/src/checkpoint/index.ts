/**
 * Checkpoints as Hugging Face model directories: `config.json` + `model.safetensors` + `tokenizer.json`
 * (+ `tokenizer_config.json`, `special_tokens_map.json`), so a policy loads in transformers as
 * GPT2LMHeadModel and a reward model as GPT2ForSequenceClassification; plus our training state
 * (`trainer_state.json`, `optimizer.safetensors`) so a run resumes exactly. A GPT-2 directory from the
 * hub, put on disk by the user, loads too.
 *
 * A model with LoRA adapters is saved as PEFT saves it (./peft.ts): adapter_config.json and
 * adapter_model.safetensors instead of config.json and model.safetensors, the base found through the
 * adapter's base_model_name_or_path; loading such a directory loads the base, then the adapter.
 *
 * A checkpoint is written into a temporary directory, every file and the directory flushed to the disk,
 * then renamed into place (./durable.ts), so neither a killed process nor a power cut leaves a half-written
 * checkpoint under the final name, and a checkpoint written again (the same step after a resume) replaces
 * the previous one without a moment in which neither exists.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { type GPT, type GPTOptions, toHfConfig } from "../model";
import {
  loadTokenizerJson,
  saveTokenizerJson,
  type Tokenizer,
  transformersTokenizerFiles,
} from "../tokenizer";
import { publishDirectory, recoverInterruptedPublish } from "./durable";
import { modelFromCheckpointFiles } from "./model-files";
import { loadPeftAdapter, PEFT_FILES, readPeftConfig, savePeftAdapter } from "./peft";
import { type F32Tensor, readSafetensors, writeSafetensors } from "./safetensors";

export const CHECKPOINT_FILES = {
  config: "config.json",
  weights: "model.safetensors",
  tokenizer: "tokenizer.json",
  tokenizerConfig: "tokenizer_config.json",
  specialTokensMap: "special_tokens_map.json",
  trainerState: "trainer_state.json",
  optimizer: "optimizer.safetensors",
  rewardNormalization: "reward_normalization.json",
} as const;

/** What a trainer keeps besides the weights to continue exactly where it stopped. */
export interface TrainerState {
  kind: string;
  /** Optimiser steps completed. */
  step: number;
  /** Trainer-specific position in the data and RNG state (JSON). */
  data?: Record<string, unknown>;
  /** Metrics at this step, for the checkpoint list. */
  metrics?: Record<string, number>;
}

export interface SaveCheckpointOptions {
  /** Optimiser moments by name, saved to optimizer.safetensors (tensors, or arrays kept outside tfjs). */
  optimizerState?: Map<string, tf.Tensor | F32Tensor>;
  trainerState?: TrainerState;
  /** Extra JSON files (name → content), e.g. the reward normalisation. */
  extraFiles?: Record<string, unknown>;
}

async function tensorsToF32(tensors: Map<string, tf.Tensor | F32Tensor>): Promise<Record<string, F32Tensor>> {
  const out: Record<string, F32Tensor> = {};
  for (const [name, t] of tensors) {
    out[name] =
      t instanceof tf.Tensor ? { dtype: "F32", shape: t.shape, data: (await t.data()) as Float32Array } : t;
  }
  return out;
}

/** Our parameter names → the names and layouts transformers reads (scalar heads as [1, d] Linear weights). */
function exportWeights(model: GPT): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [name, t] of model.namedWeights()) {
    if (name === "score.weight")
      out.set(name, tf.transpose(t)); // [d,1] → [1,d] (nn.Linear layout)
    else if (name === "v_head.weight")
      out.set("v_head.summary.weight", tf.transpose(t)); // TRL's ValueHead
    else if (name === "v_head.bias") out.set("v_head.summary.bias", t);
    else out.set(name, t);
  }
  return out;
}

/** config.json and model.safetensors: the whole model as transformers loads it. */
async function saveFullModel(dir: string, model: GPT, tokenizer: Tokenizer): Promise<void> {
  const architecture = model.hasRewardHead ? "GPT2ForSequenceClassification" : "GPT2LMHeadModel";
  const hfConfig = toHfConfig(
    model.config,
    {
      eosTokenId: tokenizer.eosId,
      padTokenId: tokenizer.padId,
      bosTokenId: tokenizer.bosId ?? tokenizer.eosId,
    },
    architecture,
  );
  await writeFile(path.join(dir, CHECKPOINT_FILES.config), `${JSON.stringify(hfConfig, null, 2)}\n`);

  const exported = exportWeights(model);
  try {
    await writeSafetensors(path.join(dir, CHECKPOINT_FILES.weights), await tensorsToF32(exported), {
      format: "pt",
    });
  } finally {
    // Dispose the transposed copies only; the rest are the model's live parameters.
    const live = new Set<tf.Tensor>(model.params.values());
    for (const t of exported.values()) if (!live.has(t)) t.dispose();
  }
}

export async function saveCheckpoint(
  dir: string,
  model: GPT,
  tokenizer: Tokenizer,
  options: SaveCheckpointOptions = {},
): Promise<void> {
  await recoverInterruptedPublish(dir);
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  if (model.lora) {
    await savePeftAdapter(tmp, model);
  } else {
    await saveFullModel(tmp, model, tokenizer);
  }
  await saveTokenizerJson(path.join(tmp, CHECKPOINT_FILES.tokenizer), tokenizer);
  const { tokenizerConfig, specialTokensMap } = transformersTokenizerFiles(tokenizer, {
    modelMaxLength: model.config.nPositions,
  });
  await writeFile(
    path.join(tmp, CHECKPOINT_FILES.tokenizerConfig),
    `${JSON.stringify(tokenizerConfig, null, 2)}\n`,
  );
  await writeFile(
    path.join(tmp, CHECKPOINT_FILES.specialTokensMap),
    `${JSON.stringify(specialTokensMap, null, 2)}\n`,
  );
  if (options.optimizerState) {
    await writeSafetensors(
      path.join(tmp, CHECKPOINT_FILES.optimizer),
      await tensorsToF32(options.optimizerState),
    );
  }
  if (options.trainerState) {
    await writeFile(
      path.join(tmp, CHECKPOINT_FILES.trainerState),
      `${JSON.stringify(options.trainerState, null, 2)}\n`,
    );
  }
  for (const [name, content] of Object.entries(options.extraFiles ?? {})) {
    await writeFile(path.join(tmp, name), `${JSON.stringify(content, null, 2)}\n`);
  }
  await publishDirectory(tmp, dir);
}

export interface LoadedCheckpoint {
  model: GPT;
  tokenizer: Tokenizer;
  trainerState?: TrainerState;
  /** Optimiser moments, when the checkpoint has them; the caller disposes them. */
  optimizerState?: Map<string, tf.Tensor>;
  /** Parsed extra JSON files that were present (e.g. reward_normalization.json). */
  rewardNormalization?: { gain: number; bias: number };
}

export interface LoadCheckpointOptions extends Omit<GPTOptions, "init" | "seed"> {
  /** Also read optimizer.safetensors (to resume training). */
  withOptimizer?: boolean;
  /**
   * A LoRA adapter directory's base checkpoint, instead of its adapter_config.json's
   * base_model_name_or_path (a relative path there is taken from the adapter's directory).
   */
  baseModel?: string;
}

/** Whether `dir` holds a LoRA adapter (PEFT's files) rather than a whole model. */
export function isAdapterDir(dir: string): boolean {
  return (
    existsSync(path.join(dir, PEFT_FILES.config)) && !existsSync(path.join(dir, CHECKPOINT_FILES.config))
  );
}

/** The base checkpoint of the adapter in `dir`, or an error saying how to give one. */
export async function adapterBaseDir(dir: string, override?: string): Promise<string> {
  const base = override ?? (await readPeftConfig(dir)).base_model_name_or_path;
  if (!base) {
    throw new Error(
      `${path.join(dir, PEFT_FILES.config)} names no base_model_name_or_path: give the base checkpoint (--base)`,
    );
  }
  const resolved = path.resolve(dir, base);
  if (!existsSync(path.join(resolved, CHECKPOINT_FILES.config))) {
    throw new Error(
      `${dir}: its base ${JSON.stringify(base)} is not a checkpoint directory here (config.json missing); give the base checkpoint (--base)`,
    );
  }
  return resolved;
}

/** Load a checkpoint directory (ours, or a GPT-2 from the Hugging Face hub). Errors name the missing file. */
export async function loadCheckpoint(
  dir: string,
  options: LoadCheckpointOptions = {},
): Promise<LoadedCheckpoint> {
  await recoverInterruptedPublish(dir);
  const file = (name: string) => path.join(dir, name);
  const { withOptimizer, baseModel, ...gptOptions } = options;
  if (isAdapterDir(dir)) {
    // The base (whose tokenizer the adapter's own copy replaces), then the adapter on it.
    const baseDir = await adapterBaseDir(dir, baseModel);
    const base = await loadCheckpoint(baseDir, gptOptions);
    try {
      await loadPeftAdapter(dir, base.model, { trainable: options.trainable });
      if (base.model.lora) base.model.lora.baseModel = baseDir;
    } catch (error) {
      base.model.dispose();
      throw error;
    }
    return {
      ...(await trainingFiles(dir, withOptimizer)),
      model: base.model,
      tokenizer: existsSync(file(CHECKPOINT_FILES.tokenizer))
        ? await loadTokenizerJson(file(CHECKPOINT_FILES.tokenizer))
        : base.tokenizer,
    };
  }
  for (const required of [CHECKPOINT_FILES.config, CHECKPOINT_FILES.weights, CHECKPOINT_FILES.tokenizer]) {
    if (!existsSync(file(required))) {
      throw new Error(
        `${dir} is not a checkpoint: ${required} is missing (expected config.json, model.safetensors and tokenizer.json)`,
      );
    }
  }
  const tokenizer = await loadTokenizerJson(file(CHECKPOINT_FILES.tokenizer));
  const model = modelFromCheckpointFiles(
    {
      config: JSON.parse(await readFile(file(CHECKPOINT_FILES.config), "utf8")),
      tokenizer,
      weights: await readSafetensors(file(CHECKPOINT_FILES.weights)),
    },
    dir,
    gptOptions,
  );

  return { ...(await trainingFiles(dir, withOptimizer)), model, tokenizer };
}

/** The training state, reward normalisation and (with `withOptimizer`) optimiser moments in `dir`. */
async function trainingFiles(
  dir: string,
  withOptimizer: boolean | undefined,
): Promise<Omit<LoadedCheckpoint, "model" | "tokenizer">> {
  const file = (name: string) => path.join(dir, name);
  const loaded: Omit<LoadedCheckpoint, "model" | "tokenizer"> = {};
  if (existsSync(file(CHECKPOINT_FILES.trainerState))) {
    loaded.trainerState = JSON.parse(await readFile(file(CHECKPOINT_FILES.trainerState), "utf8"));
  }
  if (existsSync(file(CHECKPOINT_FILES.rewardNormalization))) {
    loaded.rewardNormalization = JSON.parse(
      await readFile(file(CHECKPOINT_FILES.rewardNormalization), "utf8"),
    );
  }
  if (withOptimizer && existsSync(file(CHECKPOINT_FILES.optimizer))) {
    const opt = await readSafetensors(file(CHECKPOINT_FILES.optimizer));
    loaded.optimizerState = new Map(
      [...opt.tensors].map(([name, t]) => [name, tf.tensor(t.data as Float32Array, t.shape, "float32")]),
    );
  }
  return loaded;
}
