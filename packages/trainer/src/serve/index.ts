/** `rlhf serve`: an OpenAI-compatible HTTP API on a checkpoint (completions, chat completions, models). */
import { stat } from "node:fs/promises";
import path from "node:path";
import { type BackendPreference, initBackend } from "../backend";
import { CHECKPOINT_FILES, isAdapterDir, loadCheckpoint } from "../checkpoint";
import { PEFT_FILES } from "../checkpoint/peft";
import type { ServedModel } from "./engine";

export { ChoiceText, firstStop, stopPrefixSuffix } from "./choice-text";
export {
  type EngineStats,
  type GenerationRequest,
  type GenerationResult,
  type ServedModel,
  ServeEngine,
} from "./engine";
export { ApiError, chatCompletionRequestSchema, completionRequestSchema } from "./protocol";
export { type RunningServer, type ServeOptions, startServer } from "./server";

/**
 * Load a checkpoint directory — a whole model, or a LoRA adapter whose base_model_name_or_path is on disk —
 * for serving under `name` (default: the directory's name).
 */
export async function loadServedModel(
  dir: string,
  options: { name?: string; backend?: BackendPreference } = {},
): Promise<ServedModel> {
  const backend = await initBackend(options.backend ?? "auto");
  // A LoRA adapter directory loads its base and merges the adapter in (no extra products per token).
  const { model, tokenizer } = await loadCheckpoint(dir, { trainable: false });
  const weights = isAdapterDir(dir) ? PEFT_FILES.weights : CHECKPOINT_FILES.weights;
  const saved = await stat(path.join(dir, weights));
  return {
    name: options.name ?? path.basename(path.resolve(dir)),
    model,
    tokenizer,
    backend,
    created: Math.floor(saved.mtimeMs / 1000),
  };
}
