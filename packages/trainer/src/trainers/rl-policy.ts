/**
 * The policy and reference of the online trainers (PPO, GRPO, RLOO), with or without LoRA.
 *
 * Full fine-tuning: the policy is the SFT checkpoint (or the resumed run's), the reference a frozen second
 * copy of the SFT checkpoint. With `lora`, the policy is the SFT model with fresh adapters — only they train
 * (PPO: and its value head) — and the reference is the same weights with the adapters switched off
 * (`withoutAdapters`): one copy of the base, not two. Checkpoints then hold a PEFT adapter naming the base.
 *
 * An SFT checkpoint that is itself a LoRA adapter is merged into its base at load: the merged SFT model is
 * what the KL is measured against. With `lora`, that merged model is written once to the run's `base/`
 * directory, so the run's adapters name a whole checkpoint (PEFT, `rlhf serve` and a resume load it).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { LoraConfig } from "@rlhf/core/configs";
import * as tf from "@tensorflow/tfjs";
import { isAdapterDir, loadCheckpoint, saveCheckpoint, type TrainerState } from "../checkpoint";
import { readSafetensors, writeSafetensors } from "../checkpoint/safetensors";
import { addLora, type GPT, mergeLora, withoutAdapters } from "../model";
import type { Tokenizer } from "../tokenizer";
import type { JobContext } from "../train/context";

/** The value head's parameters (PPO's `valueModel: "head"`). */
const VALUE_HEAD = ["v_head.weight", "v_head.bias"];
/** Where a LoRA run's checkpoints keep the value head beside the adapter (PEFT's files hold the adapter only). */
const VALUE_HEAD_FILE = "value_head.safetensors";

export interface RlModels {
  policy: GPT;
  /** The frozen SFT model: a second copy, or (LoRA) the policy with its adapters off; undefined when not needed. */
  reference?: GPT;
  tokenizer: Tokenizer;
  /** Only a resumed run of this trainer: its trainer state and optimiser moments. */
  resumedState?: TrainerState;
  optimizerState?: Map<string, tf.Tensor>;
  /** Write what a checkpoint needs besides the policy (a LoRA run's value head). */
  saveWith(dir: string): Promise<void>;
  dispose(): void;
}

/**
 * Load the policy (resumed, or the SFT checkpoint with fresh adapters under `lora`) and, when
 * `withReference`, the reference policy.
 */
export async function loadRlModels(
  ctx: JobContext,
  config: { policy: string; lora?: LoraConfig; seed: number },
  o: { valueHead: boolean; withReference: boolean },
): Promise<RlModels> {
  const policyDir = await ctx.resolveCheckpoint(config.policy);
  const resumeDir = ctx.resumeFrom?.path;
  const loaded = await loadCheckpoint(resumeDir ?? policyDir, {
    valueHead: o.valueHead,
    withOptimizer: resumeDir !== undefined,
  });
  const policy = loaded.model;
  const resumedLora = resumeDir !== undefined && policy.lora !== undefined;
  try {
    if (!resumeDir && policy.lora) {
      mergeLora(policy);
      ctx.log(
        `the SFT checkpoint is a LoRA adapter: merged into its base (the reference is the merged model)`,
      );
    }
    if (resumedLora) {
      // The adapter loaded trainable, its base frozen; PPO's value head trains with it (saved beside it).
      if (o.valueHead) await loadValueHead(policy, resumeDir!);
    } else if (!resumeDir && config.lora) {
      const baseModel = isAdapterDir(policyDir)
        ? await writeMergedBase(ctx, policy, loaded.tokenizer)
        : policyDir;
      const adapters = addLora(policy, config.lora, {
        seed: config.seed,
        baseModel,
        trainable: o.valueHead ? VALUE_HEAD : [],
      });
      const heads = o.valueHead ? " + the value head" : "";
      ctx.log(
        `LoRA r=${config.lora.r} alpha=${config.lora.alpha} on ${adapters.modules.size} modules${heads}: ${[...policy.trainableParams().values()].reduce((n, v) => n + v.size, 0)} trainable parameters; the reference is the same weights with the adapters off`,
      );
    }
    const reference = !o.withReference
      ? undefined
      : policy.lora
        ? withoutAdapters(policy)
        : (await loadCheckpoint(policyDir, { trainable: false })).model;
    return {
      policy,
      reference,
      tokenizer: loaded.tokenizer,
      resumedState: resumeDir ? loaded.trainerState : undefined,
      optimizerState: loaded.optimizerState,
      saveWith: async (dir) => {
        if (policy.lora && o.valueHead) await saveValueHead(policy, dir);
      },
      dispose: () => {
        reference?.dispose(); // a no-op for the adapters-off view
        policy.dispose();
        for (const t of loaded.optimizerState?.values() ?? []) t.dispose();
      },
    };
  } catch (error) {
    policy.dispose();
    throw error;
  }
}

/** The merged SFT model as a whole checkpoint in the run's `base/` (once), for the adapters to name. */
async function writeMergedBase(ctx: JobContext, policy: GPT, tokenizer: Tokenizer): Promise<string> {
  const dir = path.join(ctx.runDir, "base");
  if (!existsSync(path.join(dir, "config.json"))) await saveCheckpoint(dir, policy, tokenizer);
  ctx.log(`the merged SFT model is saved as the adapters' base: ${dir}`);
  return dir;
}

async function saveValueHead(policy: GPT, dir: string): Promise<void> {
  const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  for (const name of VALUE_HEAD) {
    const v = policy.param(name);
    tensors[name] = { dtype: "F32", shape: [...v.shape], data: (await v.data()) as Float32Array };
  }
  await writeSafetensors(path.join(dir, VALUE_HEAD_FILE), tensors, { format: "pt" });
}

async function loadValueHead(policy: GPT, dir: string): Promise<void> {
  const file = path.join(dir, VALUE_HEAD_FILE);
  if (!existsSync(file))
    throw new Error(`${dir}: ${VALUE_HEAD_FILE} is missing (the value head of a LoRA PPO run)`);
  const contents = await readSafetensors(file);
  for (const name of VALUE_HEAD) {
    const t = contents.tensors.get(name);
    if (!t) throw new Error(`${file}: ${name} is missing`);
    const v = policy.param(name);
    tf.tidy(() => v.assign(tf.tensor(t.data as Float32Array, v.shape)));
    v.trainable = true;
  }
}
