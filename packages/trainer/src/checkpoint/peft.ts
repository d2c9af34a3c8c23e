/**
 * LoRA adapters as Hugging Face PEFT saves them, so `PeftModel.from_pretrained(base, dir)` loads ours and we
 * load theirs: `adapter_config.json` (LoraConfig) + `adapter_model.safetensors`.
 *
 * Key names (peft/utils/save_and_load.py: the PeftModel's state dict with the adapter name removed):
 *   base_model.model.transformer.h.0.attn.c_attn.lora_A.weight   [r, in]   nn.Linear(in, r).weight
 *   base_model.model.transformer.h.0.attn.c_attn.lora_B.weight   [out, r]  nn.Linear(r, out).weight
 *   base_model.model.score.weight                                [1, d]    modules_to_save (reward model)
 * GPT-2's layers are Conv1D (weight [in, out]), so PEFT sets fan_in_fan_out = true and merges
 * W += (B A)ᵀ · α/r; lora_A/lora_B themselves keep nn.Linear's layout, the transposes of our A [in, r] and
 * B [r, out]. A checkpoint directory with LoRA holds these two files instead of config.json and
 * model.safetensors, beside the tokenizer and the training state; the base is found through
 * base_model_name_or_path.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { addLora, conv1dModules, type GPT, type LoraSettings, loraTargetModules, mergeLora } from "../model";
import { type F32Tensor, readSafetensors, writeSafetensors } from "./safetensors";

export const PEFT_FILES = {
  config: "adapter_config.json",
  weights: "adapter_model.safetensors",
} as const;

/** PEFT's prefix of every key: PeftModel.base_model (LoraModel) .model (GPT2LMHeadModel / ForSequenceClassification). */
const PREFIX = "base_model.model.";

/** The fields of PEFT's LoraConfig that we write, and check on reading. */
export interface PeftLoraConfig {
  peft_type: "LORA";
  task_type: "CAUSAL_LM" | "SEQ_CLS";
  base_model_name_or_path: string | null;
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  target_modules: string[];
  fan_in_fan_out: boolean;
  bias: "none";
  modules_to_save: string[] | null;
  use_rslora: boolean;
  use_dora: boolean;
  init_lora_weights: boolean;
  inference_mode: boolean;
  rank_pattern: Record<string, number>;
  alpha_pattern: Record<string, number>;
  layers_to_transform: null;
  layers_pattern: null;
  revision: null;
  [key: string]: unknown;
}

/** Our adapter name (`h.0.attn.c_attn.lora_A.weight`) -> PEFT's key. */
function peftKey(name: string): string {
  return name.startsWith("score.") ? `${PREFIX}${name}` : `${PREFIX}transformer.${name}`;
}

/** adapter_config.json for `model`'s adapters. */
export function peftConfig(model: GPT): PeftLoraConfig {
  const lora = model.lora;
  if (!lora) throw new Error(`${model.name} has no LoRA adapters`);
  const { r, alpha, dropout, targets } = lora.settings;
  const keepsScore = model.hasRewardHead && model.param("score.weight").trainable;
  return {
    peft_type: "LORA",
    task_type: model.hasRewardHead ? "SEQ_CLS" : "CAUSAL_LM",
    base_model_name_or_path: lora.baseModel ?? null,
    r,
    lora_alpha: alpha,
    lora_dropout: dropout,
    target_modules: targets,
    fan_in_fan_out: true,
    bias: "none",
    modules_to_save: keepsScore ? ["score"] : null,
    use_rslora: false,
    use_dora: false,
    init_lora_weights: true,
    inference_mode: true,
    rank_pattern: {},
    alpha_pattern: {},
    layers_to_transform: null,
    layers_pattern: null,
    revision: null,
  };
}

/** The adapter's tensors under PEFT's keys and layouts (transposed copies: the caller disposes them). */
export function peftTensors(model: GPT): Map<string, tf.Tensor> {
  const lora = model.lora;
  if (!lora) throw new Error(`${model.name} has no LoRA adapters`);
  const out = new Map<string, tf.Tensor>();
  for (const [name, v] of lora.namedVariables()) out.set(peftKey(name), tf.transpose(v));
  if (peftConfig(model).modules_to_save) {
    out.set(peftKey("score.weight"), tf.transpose(model.param("score.weight"))); // [d,1] -> [1,d]
  }
  return out;
}

/** Write adapter_config.json and adapter_model.safetensors into `dir` (which exists). */
export async function savePeftAdapter(dir: string, model: GPT): Promise<void> {
  const config = peftConfig(model);
  const tensors = peftTensors(model);
  try {
    const f32: Record<string, F32Tensor> = {};
    for (const [name, t] of tensors) {
      f32[name] = { dtype: "F32", shape: t.shape, data: (await t.data()) as Float32Array };
    }
    await writeSafetensors(path.join(dir, PEFT_FILES.weights), f32, { format: "pt" });
  } finally {
    tf.dispose([...tensors.values()]);
  }
  await writeFile(path.join(dir, PEFT_FILES.config), `${JSON.stringify(config, null, 2)}\n`);
}

/** Read and check adapter_config.json: errors name the field and say what is supported. */
export async function readPeftConfig(dir: string): Promise<PeftLoraConfig> {
  const file = path.join(dir, PEFT_FILES.config);
  const json = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  const where = (field: string) => `${file}: "${field}"`;
  const unsupported = (field: string, expected: string) =>
    new Error(`${where(field)} is ${JSON.stringify(json[field])}; only ${expected} is supported`);
  if (json.peft_type !== "LORA") throw unsupported("peft_type", '"LORA"');
  if (!Number.isInteger(json.r) || (json.r as number) < 1) throw unsupported("r", "a positive integer");
  if (typeof json.lora_alpha !== "number") throw unsupported("lora_alpha", "a number");
  const targets = json.target_modules;
  if (!Array.isArray(targets) || !targets.every((t) => typeof t === "string")) {
    throw unsupported("target_modules", "a list of module names");
  }
  if ((json.bias ?? "none") !== "none") throw unsupported("bias", '"none"');
  for (const flag of ["use_dora", "use_rslora"]) if (json[flag] === true) throw unsupported(flag, "false");
  for (const pattern of ["rank_pattern", "alpha_pattern"]) {
    const value = json[pattern];
    if (value && typeof value === "object" && Object.keys(value).length > 0) throw unsupported(pattern, "{}");
  }
  for (const field of ["layers_to_transform", "layers_pattern"]) {
    if (json[field] != null) throw unsupported(field, "null");
  }
  const toSave = json.modules_to_save;
  if (toSave != null && !(Array.isArray(toSave) && toSave.every((m) => m === "score"))) {
    throw unsupported("modules_to_save", 'null or ["score"]');
  }
  return json as PeftLoraConfig;
}

/** LoraSettings of a PEFT config. */
export function loraSettingsOf(config: PeftLoraConfig): LoraSettings {
  return {
    r: config.r,
    alpha: config.lora_alpha,
    dropout: config.lora_dropout ?? 0,
    targets: config.target_modules,
  };
}

export interface LoadPeftOptions {
  /** false: merge the adapter into the weights at once and freeze everything (inference). Default true. */
  trainable?: boolean;
}

/**
 * Attach the adapter in `dir` to `model` (its base, already loaded). With `trainable: false` the adapter is
 * merged into the weights at once (inference: no extra products per token) and everything is frozen.
 * Every name and shape is checked before the model is touched; errors name the key.
 */
export async function loadPeftAdapter(dir: string, model: GPT, options: LoadPeftOptions = {}): Promise<void> {
  const config = await readPeftConfig(dir);
  const contents = await readSafetensors(path.join(dir, PEFT_FILES.weights));
  const settings = loraSettingsOf(config);
  const keepScore = (config.modules_to_save ?? []).includes("score");
  const fail = (message: string) => new Error(`${dir}: ${message}`);
  if (keepScore && !model.hasRewardHead) {
    throw fail(
      "the adapter trains a reward model's score head (modules_to_save: score); load it with rewardHead",
    );
  }
  // Expected keys and PEFT-layout shapes: lora_A [r, in], lora_B [out, r], score [1, d].
  const shapes = conv1dModules(model.config);
  const expected = new Map<string, { name: string; shape: number[] }>();
  for (const module of loraTargetModules(model.config, settings.targets)) {
    const [nIn, nOut] = shapes.get(module) as [number, number];
    for (const [name, shape] of [
      [`${module}.lora_A.weight`, [settings.r, nIn]],
      [`${module}.lora_B.weight`, [nOut, settings.r]],
    ] as const) {
      expected.set(peftKey(name), { name, shape: [...shape] });
    }
  }
  if (keepScore)
    expected.set(peftKey("score.weight"), { name: "score.weight", shape: [1, model.config.nEmbd] });
  const problems: string[] = [];
  for (const [key, t] of contents.tensors) {
    const want = expected.get(key);
    if (!want) problems.push(`${key}: not an adapter of target_modules ${JSON.stringify(settings.targets)}`);
    else if (t.shape.length !== 2 || t.shape[0] !== want.shape[0] || t.shape[1] !== want.shape[1]) {
      problems.push(`${key}: expected shape [${want.shape}], got [${t.shape}]`);
    }
  }
  for (const key of expected.keys()) if (!contents.tensors.has(key)) problems.push(`${key}: missing`);
  if (problems.length > 0) throw fail(`${problems.length} problem(s):\n  ${problems.join("\n  ")}`);

  const adapters = addLora(model, settings, {
    trainable: keepScore ? ["score.weight"] : [],
    baseModel: config.base_model_name_or_path ?? undefined,
  });
  // Ours are the transposes of PEFT's layouts (see the header).
  const ours = new Map<string, tf.Tensor>();
  tf.tidy(() => {
    for (const [key, t] of contents.tensors) {
      const { name } = expected.get(key) as { name: string };
      ours.set(name, tf.keep(tf.transpose(tf.tensor(t.data as Float32Array, t.shape, "float32"))));
    }
  });
  try {
    const score = ours.get("score.weight");
    ours.delete("score.weight");
    adapters.load(ours);
    if (score) {
      model.param("score.weight").assign(score as tf.Tensor2D);
      score.dispose();
    }
  } finally {
    tf.dispose([...ours.values()]);
  }
  if (options.trainable === false) {
    mergeLora(model);
    for (const v of model.params.values()) v.trainable = false;
  }
}
