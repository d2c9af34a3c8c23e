/**
 * GPT-2 small (124M: d 768, 12 layers, 12 heads, vocabulary 50,257, 1,024 positions) on this machine,
 * phase by phase, beside the same steps in PyTorch (bench/reference_gpt.py --gpt2-phase) in the same run:
 *   build   a checkpoint with random weights and a 50,257-token byte-level BPE (no download)
 *   load    loadCheckpoint
 *   generate  greedy, 32 new tokens after a 16-token prompt, batch 1 and 8, with the key/value cache
 *   sft-full  full fine-tuning, batch 8 x 128, AdamW (moments outside the heap), fused LM head
 *   sft-lora  LoRA r = 8, alpha 16 on c_attn, c_proj, c_fc; the same batch
 *   reward-lora  LoRA + the score head, 8 pairs x 128 tokens, Bradley-Terry loss
 *   grpo-lora  LoRA; 2 prompts x 4 completions of 32 sampled tokens, group advantages, the reference
 *              is the same weights with the adapters off (k3 KL, β 0.04)
 *   serve   rlhf serve on the LoRA adapter + its base: one chat completion of 32 tokens
 * Each phase runs in a process of its own, so its peak RSS is its own (load included).
 *
 *   pnpm bench:gpt2-small [--steps 3] [--phases sft-lora,grpo-lora] [--no-reference] [--dir <dir>]
 *
 * Output: one line per figure, then a table. The machine's load average is printed first and last:
 * other processes on a 2-core machine change every figure.
 */

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { initBackend } from "@rlhf/trainer/backend";
import { loadCheckpoint, saveCheckpoint } from "@rlhf/trainer/checkpoint";
import {
  addLora,
  GPT,
  generate,
  gptConfig,
  type LoraSettings,
  lastTokenValues,
  mulberry32,
} from "@rlhf/trainer/model";
import { HostAdamW } from "@rlhf/trainer/parallel/host-adamw";
import { estimateTrainingMemory, memoryInputOf, planMicroBatch } from "@rlhf/trainer/parallel/memory";
import { loadServedModel, startServer } from "@rlhf/trainer/serve";
import { ASSISTANT, bytesToSymbols, END_OF_TEXT, PAD, Tokenizer, USER } from "@rlhf/trainer/tokenizer";
import { AdamW } from "@rlhf/trainer/train/adamw";
import type * as tfjs from "@tensorflow/tfjs";

// tsx runs this file as CommonJS (the repository root is not "type": "module").
const here = typeof __dirname === "string" ? __dirname : path.dirname(fileURLToPath(import.meta.url));
const trainerDir = path.join(here, "..", "packages", "trainer");
type Tf = typeof import("@tensorflow/tfjs");
// tfjs is a dependency of @rlhf/trainer, not of the repository root: the trainer's own instance (main()).
let tf: Tf;

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? (argv[i + 1] as string) : fallback;
};
const steps = Number(option("steps", "3"));
const PHASES = ["load", "generate", "sft-full", "sft-lora", "reward-lora", "grpo-lora", "serve"] as const;
type Phase = (typeof PHASES)[number] | "build";
const BATCH = 8;
const CONTEXT = 128;
const LORA: LoraSettings = { r: 8, alpha: 16, dropout: 0, targets: ["c_attn", "c_proj", "c_fc"] };

/**
 * A byte-level BPE of GPT-2's size without downloading GPT-2's: 4 special tokens, the 256 bytes and 49,997
 * merges of two bytes (printable ones first), 50,257 tokens in all. Real text encodes to about half its
 * bytes; what matters here is the vocabulary's size, which sets the embedding and LM head.
 */
function syntheticGpt2Tokenizer(): Tokenizer {
  const specials = [END_OF_TEXT, PAD, USER, ASSISTANT];
  const byteSymbol = (b: number) => bytesToSymbols(Uint8Array.of(b));
  const bytes = Array.from({ length: 256 }, (_, b) => b).sort((a, b) => printableRank(a) - printableRank(b));
  const vocab: [string, number][] = specials.map((t, id) => [t, id]);
  for (const b of bytes) vocab.push([byteSymbol(b), vocab.length]);
  const merges: [string, string][] = [];
  outer: for (let sum = 0; sum < 2 * 256; sum++) {
    for (let i = 0; i <= sum; i++) {
      const j = sum - i;
      if (i >= 256 || j >= 256) continue;
      const left = byteSymbol(bytes[i] as number);
      const right = byteSymbol(bytes[j] as number);
      merges.push([left, right]);
      vocab.push([left + right, vocab.length]);
      if (vocab.length === 50257) break outer;
    }
  }
  return new Tokenizer({
    vocab,
    merges,
    addedTokens: specials.map((content, id) => ({
      id,
      content,
      special: true,
      singleWord: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
    })),
    roles: { eos: END_OF_TEXT, pad: PAD },
  });
}

/** Letters, space and punctuation before control bytes, so common text pairs get merges. */
function printableRank(b: number): number {
  if (b >= 97 && b <= 122) return b - 97; // a-z
  if (b === 32) return 26;
  if (b >= 65 && b <= 90) return 27 + b - 65;
  if (b >= 33 && b <= 126) return 60 + b;
  return 300 + b;
}

const say = (name: string, value: number | string) => console.log(`${name} ${value}`);
const seconds = (t0: number) => (performance.now() - t0) / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function randomIds(rows: number, cols: number, vocab: number, seed: number): tfjs.Tensor2D {
  const random = mulberry32(seed);
  const ids = Int32Array.from({ length: rows * cols }, () => Math.floor(random() * (vocab - 4)) + 4);
  return tf.tensor2d(ids, [rows, cols], "int32");
}

/** Time `step` once (the first step) and then `steps` times; prints first/median seconds and tokens/s. */
async function timeSteps(step: () => Promise<void> | void, tokens: number): Promise<void> {
  let t0 = performance.now();
  await step();
  const first = seconds(t0);
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    t0 = performance.now();
    await step();
    times.push(seconds(t0));
  }
  say("first_step_seconds", first.toFixed(2));
  say("step_seconds", median(times).toFixed(2));
  say("tokens_per_s", (tokens / median(times)).toFixed(1));
}

/**
 * One optimiser update from micro-batches: the gradients of each `losses[k]` summed, averaged, clipped to
 * global norm 1 and applied by `optimizer`.
 */
function optimise(
  model: GPT,
  optimizer: { apply(grads: Map<string, tfjs.Tensor>, lr: number, scale?: number): void },
  losses: (() => tfjs.Scalar)[],
  lr: number,
): void {
  const params = model.trainableParams();
  let sum: Map<string, tfjs.Tensor> | undefined;
  for (const loss of losses) {
    const { value, grads } = tf.variableGrads(loss, [...params.values()]);
    value.dispose();
    const byName = new Map([...params].map(([name, v]) => [name, grads[v.name] as tfjs.Tensor]));
    if (!sum) sum = byName;
    else {
      for (const [name, g] of byName) {
        const previous = sum.get(name) as tfjs.Tensor;
        sum.set(name, tf.add(previous, g));
        tf.dispose([previous, g]);
      }
    }
  }
  const grads = sum as Map<string, tfjs.Tensor>;
  const norm = tf.tidy(
    () => tf.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g))))).dataSync()[0],
  );
  const mean = 1 / losses.length;
  const scale = mean * Math.min(1, 1 / ((norm as number) * mean + 1e-6));
  if (optimizer instanceof HostAdamW) optimizer.apply(grads, lr, scale);
  else {
    const scaled = new Map([...grads].map(([n, g]) => [n, tf.mul(g, scale)]));
    optimizer.apply(scaled, lr);
    tf.dispose([...scaled.values()]);
  }
  tf.dispose([...grads.values()]);
}

/** −mean log p(y | x) through the fused LM head. */
function lmLoss(model: GPT, x: tfjs.Tensor, y: tfjs.Tensor): tfjs.Scalar {
  const { logProbs } = model.forward(x, { targets: y, training: true, returnHidden: false });
  return tf.neg(tf.mean(logProbs as tfjs.Tensor)) as tfjs.Scalar;
}

/** The micro-batch plan of a step over `rows` sequences (parallel/memory.ts), printed. */
function plan(model: GPT, rows: number, optimizer: "heap" | "host"): { micro: number; count: number } {
  const p = planMicroBatch(rows, (microBatch, accumulation) =>
    estimateTrainingMemory(
      memoryInputOf(model, { microBatch, seqLen: CONTEXT, optimizer, fusedLmHead: true, accumulation }),
    ),
  );
  say("planned_heap_gb", (p.estimate.total / 1024 ** 3).toFixed(2));
  say("planned_micro_batch", `${p.microBatch}x${p.accumulation}`);
  return { micro: p.microBatch, count: p.accumulation };
}

/** `rows` rows of `t` from `start` (a micro-batch). */
const rowsOf = (t: tfjs.Tensor, start: number, rows: number) => tf.slice(t, [start, 0], [rows, -1]);

/** Greedy generation: a checksum of the ids, then new tokens per second at batch 1 and 8. */
async function phaseGenerate(model: GPT): Promise<void> {
  const vocab = 50257;
  let t0 = performance.now();

  const prompt = Array.from({ length: 16 }, (_, i) => (i * 31 + 7) % vocab);
  const first = await generate(model, [prompt], { maxNewTokens: 32, greedy: true });
  say(
    "greedy_ids_sum",
    (first.tokens[0] as number[]).reduce((a, b) => a + b, 0),
  );
  for (const batch of [1, 8]) {
    const prompts = Array.from({ length: batch }, () => prompt);
    await generate(model, prompts, { maxNewTokens: 4, greedy: true });
    t0 = performance.now();
    await generate(model, prompts, { maxNewTokens: 32, greedy: true });
    say(`gen_b${batch}_tokens_per_s`, ((batch * 32) / seconds(t0)).toFixed(1));
  }
}

/** One SFT step, full (AdamW's state on the host) or LoRA; the adapter saved. */
async function phaseSft(
  phase: "sft-full" | "sft-lora",
  model: GPT,
  tokenizer: Tokenizer,
  checkpoint: string,
  adapterDir: string,
): Promise<void> {
  const vocab = 50257;
  let t0 = performance.now();

  if (phase === "sft-lora") addLora(model, LORA, { baseModel: checkpoint });
  const optimizer =
    phase === "sft-full"
      ? new HostAdamW(model.trainableParams(), { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1 })
      : new AdamW(model.trainableParams(), { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1 });
  const { micro, count } = plan(model, BATCH, phase === "sft-full" ? "host" : "heap");
  const x = randomIds(BATCH, CONTEXT, vocab, 1);
  const y = randomIds(BATCH, CONTEXT, vocab, 2);
  const losses = Array.from(
    { length: count },
    (_, k) => () => tf.tidy(() => lmLoss(model, rowsOf(x, k * micro, micro), rowsOf(y, k * micro, micro))),
  );
  await timeSteps(() => optimise(model, optimizer, losses, 1e-4), BATCH * CONTEXT);
  if (phase === "sft-lora") {
    t0 = performance.now();
    await saveCheckpoint(adapterDir, model, tokenizer);
    say("save_adapter_seconds", seconds(t0).toFixed(2));
  }
}

/** One reward-model step with LoRA on pairs (Bradley–Terry). */
async function phaseReward(model: GPT, checkpoint: string): Promise<void> {
  const vocab = 50257;

  addLora(model, LORA, { trainable: ["score.weight"], baseModel: checkpoint });
  const optimizer = new AdamW(model.trainableParams(), {
    beta1: 0.9,
    beta2: 0.95,
    epsilon: 1e-8,
    weightDecay: 0.1,
  });
  // A micro-batch holds pairs: its chosen rows, then its rejected rows.
  const { micro, count } = plan(model, 2 * BATCH, "heap");
  const pairsPerMicro = Math.max(1, micro / 2);
  const chosen = randomIds(BATCH, CONTEXT, vocab, 3);
  const rejected = randomIds(BATCH, CONTEXT, vocab, 4);
  const losses = Array.from(
    { length: Math.ceil(BATCH / pairsPerMicro) },
    (_, k) => () =>
      tf.tidy(() => {
        const start = k * pairsPerMicro;
        const rows = tf.concat([
          rowsOf(chosen, start, pairsPerMicro),
          rowsOf(rejected, start, pairsPerMicro),
        ]);
        const { scores } = model.forward(rows, { training: true, logits: "none", returnHidden: false });
        const last = lastTokenValues(scores as tfjs.Tensor); // [2p]
        const margin = tf.sub(tf.slice(last, 0, pairsPerMicro), tf.slice(last, pairsPerMicro, pairsPerMicro));
        return tf.neg(tf.mean(tf.log(tf.sigmoid(margin)))) as tfjs.Scalar;
      }),
  );
  say("micro_steps", `${losses.length} (plan ${count})`);
  await timeSteps(() => optimise(model, optimizer, losses, 1e-4), 2 * BATCH * CONTEXT);
}

/** One GRPO step with LoRA: a group rollout, a stand-in reward, the reference as the adapters off. */
async function phaseGrpo(model: GPT, checkpoint: string): Promise<void> {
  const vocab = 50257;

  addLora(model, LORA, { baseModel: checkpoint });
  const optimizer = new AdamW(model.trainableParams(), {
    beta1: 0.9,
    beta2: 0.95,
    epsilon: 1e-8,
    weightDecay: 0.1,
  });
  const [groups, groupSize, newTokens] = [2, 4, 32];
  const random = mulberry32(5);
  const prompts = Array.from({ length: groups }, () =>
    Array.from({ length: 16 }, () => Math.floor(random() * (vocab - 4)) + 4),
  ).flatMap((p) => Array.from({ length: groupSize }, () => p));
  let seed = 0;
  const grpoStep = async () => {
    const { tokens } = await generate(model, prompts, {
      maxNewTokens: newTokens,
      temperature: 1,
      seed: seed++,
    });
    const rows = prompts.map((p, i) => [...p, ...(tokens[i] as number[])]);
    // A stand-in reward (the share of even token ids), normalised within each prompt's group (GRPO).
    const rewards = tokens.map((t) => t.filter((id) => id % 2 === 0).length / Math.max(1, t.length));
    const advantages = rewards.map((r, i) => {
      const group = rewards.slice(
        Math.floor(i / groupSize) * groupSize,
        (Math.floor(i / groupSize) + 1) * groupSize,
      );
      const mean = group.reduce((a, b) => a + b, 0) / groupSize;
      const std = Math.sqrt(group.reduce((a, b) => a + (b - mean) ** 2, 0) / (groupSize - 1));
      return (r - mean) / (std + 1e-4);
    });
    const length = Math.min(...rows.map((r) => r.length));
    const ids = tf.tensor2d(
      rows.map((r) => r.slice(0, length)),
      undefined,
      "int32",
    );
    const x = tf.slice(ids, [0, 0], [-1, length - 1]);
    const y = tf.slice(ids, [0, 1], [-1, length - 1]);
    const completion = (t: tfjs.Tensor) => tf.slice(t, [0, 15], [-1, -1]);
    const ref = tf.tidy(() =>
      completion(model.forward(x, { targets: y, adapters: false }).logProbs as tfjs.Tensor),
    );
    const adv = tf.tensor2d(advantages, [rows.length, 1]);
    optimise(
      model,
      optimizer,
      [
        () =>
          tf.tidy(() => {
            const logp = completion(model.forward(x, { targets: y, training: true }).logProbs as tfjs.Tensor);
            const diff = tf.sub(ref, logp);
            const kl = tf.sub(tf.sub(tf.exp(diff), diff), 1); // k3
            // One update per rollout: the clipped ratio is 1, its gradient that of A·log p.
            return tf.mean(tf.add(tf.neg(tf.mul(logp, adv)), tf.mul(kl, 0.04))) as tfjs.Scalar;
          }),
      ],
      1e-5,
    );
    tf.dispose([ids, x, y, ref, adv]);
  };
  await timeSteps(grpoStep, groups * groupSize * newTokens);
}

/** Serving the adapter: its logits beside the base's, and one chat completion over HTTP. */
async function phaseServe(checkpoint: string, adapterDir: string): Promise<void> {
  const vocab = 50257;
  let t0 = performance.now();

  const base = existsSync(adapterDir) ? adapterDir : checkpoint;
  t0 = performance.now();
  const served = await loadServedModel(base, { backend: "wasm" });
  say("serve_load_seconds", seconds(t0).toFixed(2));
  // The same figures as reference_gpt.py's peft-check, which reads the adapter as PEFT does.
  const idx = tf.tensor2d([Array.from({ length: 16 }, (_, i) => (i * 31 + 7) % vocab)], [1, 16], "int32");
  const plain = await loadCheckpoint(checkpoint);
  const [adapted, baseLogits] = [served.model, plain.model].map((m) =>
    tf.tidy(() => tf.slice(m.forward(idx).logits as tfjs.Tensor, [0, 15, 0], [1, 1, -1]).reshape([-1])),
  ) as [tfjs.Tensor, tfjs.Tensor];
  say(
    "adapter_logit_shift",
    tf.tidy(() => tf.norm(tf.sub(adapted, baseLogits)).dataSync()[0] as number).toFixed(6),
  );
  say("adapted_logits_head", Array.from(adapted.dataSync().slice(0, 3), (v) => v.toFixed(4)).join(","));
  tf.dispose([idx, adapted, baseLogits]);
  plain.model.dispose();
  const server = await startServer(served, { port: 0 });
  try {
    t0 = performance.now();
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: served.name,
        messages: [{ role: "user", content: "Say something about laptops." }],
        max_tokens: 32,
        temperature: 0,
      }),
    });
    const body = (await response.json()) as { usage?: { completion_tokens: number } };
    say("serve_request_seconds", seconds(t0).toFixed(2));
    say("serve_completion_tokens", body.usage?.completion_tokens ?? 0);
  } finally {
    await server.close();
  }
}

async function runPhase(phase: Phase, dir: string): Promise<void> {
  const checkpoint = path.join(dir, "base");
  const adapterDir = path.join(dir, "sft-lora");
  await initBackend("wasm");
  if (phase === "build") {
    const tokenizer = syntheticGpt2Tokenizer();
    const model = new GPT(gptConfig("gpt2"), { seed: 0 });
    say("params", model.numParams());
    await saveCheckpoint(checkpoint, model, tokenizer);
    model.dispose();
    return;
  }
  const t0 = performance.now();
  const rewardHead = phase === "reward-lora";
  const { model, tokenizer } =
    phase === "serve"
      ? { model: undefined, tokenizer: undefined }
      : await loadCheckpoint(checkpoint, { rewardHead });
  say("load_seconds", seconds(t0).toFixed(2));
  if (phase === "generate" && model) await phaseGenerate(model);
  if ((phase === "sft-full" || phase === "sft-lora") && model && tokenizer)
    await phaseSft(phase, model, tokenizer, checkpoint, adapterDir);
  if (phase === "reward-lora" && model) await phaseReward(model, checkpoint);
  if (phase === "grpo-lora" && model) await phaseGrpo(model, checkpoint);
  if (phase === "serve") await phaseServe(checkpoint, adapterDir);
  say("peak_rss_mb", Math.round(process.resourceUsage().maxRSS / 1024));
}

/** Run `phase` in a fresh process (ours or PyTorch's); its "name value" lines as a record. */
function child(command: string, args: string[]): Record<string, string> {
  const result = spawnSync(command, args, { cwd: trainerDir, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const figures: Record<string, string> = {};
  for (const line of result.stdout.split("\n")) {
    const match = /^([a-z0-9_]+) (\S+)$/.exec(line.trim());
    if (match) figures[match[1] as string] = match[2] as string;
  }
  if (result.status !== 0) {
    figures.error = (result.stderr.trim().split("\n").pop() ?? `exit ${result.status}`).slice(0, 300);
  }
  return figures;
}

function findTorchPython(): string | undefined {
  for (const candidate of ["/usr/bin/python3", "python3"]) {
    const probe = spawnSync(candidate, ["-c", "import torch"], { encoding: "utf8" });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

async function main(): Promise<void> {
  tf = await import(
    pathToFileURL(createRequire(path.join(trainerDir, "package.json")).resolve("@tensorflow/tfjs")).href
  );
  const phaseArg = option("phase", "");
  if (phaseArg) {
    await runPhase(phaseArg as Phase, option("dir", ""));
    return;
  }
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ");
  console.log(`load_average_start ${load()}`);
  const dir = option("dir", "") || mkdtempSync(path.join(os.tmpdir(), "gpt2-small-"));
  mkdirSync(dir, { recursive: true });
  const tsx = path.join(trainerDir, "node_modules", ".bin", "tsx");
  const script = path.join(here, "gpt2-small.ts");
  const ours = (phase: Phase) =>
    child(tsx, [script, "--phase", phase, "--dir", dir, "--steps", String(steps)]);
  if (!existsSync(path.join(dir, "base", "model.safetensors"))) {
    const t0 = performance.now();
    const built = ours("build");
    console.log(`build ${JSON.stringify(built)} (${seconds(t0).toFixed(0)} s)`);
  }
  const python = flag("no-reference") ? undefined : findTorchPython();
  if (!flag("no-reference") && !python) {
    console.log(
      "reference skipped: no python with torch (apt-get install -y python3-torch libopenblas0-pthread)",
    );
  }
  const wanted = option("phases", PHASES.join(",")).split(",") as Phase[];
  const rows: { phase: string; ours: Record<string, string>; torch?: Record<string, string> }[] = [];
  for (const phase of PHASES.filter((p) => wanted.includes(p))) {
    const mine = ours(phase);
    console.log(`${phase} ours ${JSON.stringify(mine)}`);
    let torch: Record<string, string> | undefined;
    if (python) {
      // For serve, PyTorch reads the saved LoRA adapter under PEFT's names and layouts (peft-check).
      const adapter = phase === "serve" ? ["--adapter", path.join(dir, "sft-lora")] : [];
      torch = child(python, [
        path.join(here, "reference_gpt.py"),
        "--gpt2-phase",
        phase === "serve" ? "peft-check" : phase,
        ...adapter,
        "--checkpoint",
        path.join(dir, "base"),
        "--threads",
        "2",
        "--steps",
        String(steps),
      ]);
      console.log(`${phase} pytorch ${JSON.stringify(torch)}`);
    }
    rows.push({ phase, ours: mine, torch });
  }
  console.log(
    "\n| phase | ours: s/step (first) | tokens/s | peak RSS MB | PyTorch: s/step (first) | tokens/s | peak RSS MB |",
  );
  console.log("|---|---|---|---|---|---|---|");
  const cell = (f: Record<string, string> | undefined, key: string) => f?.[key] ?? "";
  for (const { phase, ours: o, torch: t } of rows) {
    const step = (f?: Record<string, string>) =>
      f?.step_seconds
        ? `${f.step_seconds} (${f.first_step_seconds})`
        : (f?.serve_request_seconds ?? f?.load_seconds ?? "");
    const speed = (f?: Record<string, string>) =>
      f?.tokens_per_s ?? [f?.gen_b1_tokens_per_s, f?.gen_b8_tokens_per_s].filter(Boolean).join(" / ");
    console.log(
      `| ${phase} | ${o.error ? `error: ${o.error}` : step(o)} | ${speed(o)} | ${cell(o, "peak_rss_mb")} | ${step(t)} | ${t ? speed(t) : ""} | ${cell(t, "peak_rss_mb")} |`,
    );
  }
  console.log(`load_average_end ${load()}`);
  console.log(`checkpoints in ${dir}`);
}

main().catch((error) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
