/**
 * `rlhf merge`: a LoRA adapter (PEFT's files) and its base → one full checkpoint (config.json +
 * model.safetensors) with W + (α/r) A B in every adapted layer, loadable anywhere a model is: transformers
 * without PEFT, the playground, a later run's `init`.
 */
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { initBackend } from "../backend";
import { adapterBaseDir, isAdapterDir, loadCheckpoint, saveCheckpoint } from "../checkpoint";
import { PEFT_FILES, readPeftConfig } from "../checkpoint/peft";
import { cliPath } from "./files";

export interface MergeCommandOptions {
  out: string;
  /** The base checkpoint, instead of the adapter's base_model_name_or_path. */
  base?: string;
  backend?: string;
}

export async function mergeCommand(adapter: string, options: MergeCommandOptions): Promise<void> {
  const dir = cliPath(adapter);
  const out = cliPath(options.out);
  if (!isAdapterDir(dir)) {
    throw new Error(`${dir} has no ${PEFT_FILES.config}: it is not a LoRA adapter (nothing to merge)`);
  }
  if (path.resolve(out) === path.resolve(dir))
    throw new Error("--out must differ from the adapter directory");
  if (existsSync(out) && readdirSync(out).length > 0) {
    throw new Error(`--out ${out} exists and is not empty; choose a new directory`);
  }
  const base = await adapterBaseDir(dir, options.base === undefined ? undefined : cliPath(options.base));
  await initBackend((options.backend ?? "auto") as "auto");
  const rewardHead = (await readPeftConfig(dir)).task_type === "SEQ_CLS";
  // trainable: false loads the adapter merged into the base weights.
  const { model, tokenizer } = await loadCheckpoint(dir, { baseModel: base, rewardHead, trainable: false });
  try {
    await saveCheckpoint(out, model, tokenizer);
  } finally {
    model.dispose();
  }
  process.stderr.write(`merged ${dir} into ${base}: wrote ${out}\n`);
}
