/**
 * A GPT from the contents of a checkpoint's files — config.json (parsed), a tokenizer and model.safetensors
 * (decoded) — with no file access: `loadCheckpoint` reads a directory through it, and the dashboard's
 * playground builds a model in the browser from downloaded bytes through it.
 */
import * as tf from "@tensorflow/tfjs";
import { fromHfConfig, GPT, type GPTOptions } from "../model";
import type { Tokenizer } from "../tokenizer/bpe";
import type { SafetensorsContents } from "./safetensors-bytes";

/**
 * Checks config.json against the tokenizer, makes the model and copies the weights in (transformers' names;
 * unknown tensors such as a value head are ignored). `source` (the directory, or a URL) prefixes errors.
 */
export function modelFromCheckpointFiles(
  files: { config: unknown; tokenizer: Tokenizer; weights: SafetensorsContents },
  source: string,
  options: Omit<GPTOptions, "init" | "seed"> = {},
): GPT {
  const hf = fromHfConfig(files.config);
  if (files.tokenizer.vocabSize > hf.config.vocabSize) {
    throw new Error(
      `${source}: tokenizer.json has ${files.tokenizer.vocabSize} tokens but config.json vocab_size is ${hf.config.vocabSize}`,
    );
  }
  // The variables take these tensors' data as it is: the weights are in the wasm heap once, not twice.
  const weights = new Map<string, tf.Tensor>();
  try {
    for (const [name, t] of files.weights.tensors) {
      weights.set(name, tf.tensor(t.data as Float32Array, t.shape, "float32"));
    }
    return GPT.fromWeights(hf.config, weights, { ...options, allowUnexpected: true }).model;
  } catch (error) {
    throw new Error(`${source}: ${(error as Error).message}`);
  } finally {
    for (const t of weights.values()) t.dispose();
  }
}
