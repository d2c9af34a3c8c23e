/**
 * Throughput of the tfjs GPT on the chosen backend, next to the same model in PyTorch measured in the
 * same run (bench/reference_gpt.py):
 *   - one training step (forward + backward + Adam) of the `tiny` config, batch 16 x context 128 — on wasm
 *     with the native kernels (src/native-kernels.ts) and again with the wasm backend's own;
 *   - the same step data-parallel across worker threads (src/parallel), each with its own backend;
 *   - generation, batch 16, 8-token prompts, 128 new tokens, with and without the key/value cache.
 *
 *   pnpm bench:train [--steps 5] [--workers 2]
 *     [--no-reference] [--profile] [--backend auto|tensorflow|webgpu|wasm|cpu] [--batch 16] [--gen-new 128]
 *
 * Output is plain lines of figures. The machine's load average is printed first and last: other
 * processes on a 2-core machine change every figure, PyTorch's (2 threads) most. On webgpu the adapter is
 * printed, and a software adapter's figures (SwiftShader: the GPU API run on the CPU) are labelled as
 * such — they say the path works, not how fast a GPU is. Data parallelism across threads is for CPU
 * backends: on webgpu there is one device, and the parallel step is skipped.
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type BackendPreference, describeBackend, initBackend } from "@rlhf/trainer/backend";
import { GPT, generate, gptConfig, maskedCrossEntropy, mulberry32 } from "@rlhf/trainer/model";

// tsx runs this file as CommonJS (the repository root is not "type": "module").
const here = typeof __dirname === "string" ? __dirname : path.dirname(fileURLToPath(import.meta.url));
const trainerDir = path.join(here, "..", "packages", "trainer");
type Tf = typeof import("@tensorflow/tfjs");

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? (argv[i + 1] as string) : fallback;
};
const steps = Number(option("steps", "5"));
// Smaller --batch / --gen-new for a slow device (a software GPU adapter); the figures say which were used.
const batch = Number(option("batch", "16"));
const context = 128;
const genPrompt = 8;
const genNew = Number(option("gen-new", "128"));

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
const cpuMillis = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Median wall time of `steps` calls after `warmUp` unmeasured ones, and the CPU time per call. */
async function timeSteps(step: () => Promise<unknown>, warmUp: number) {
  for (let i = 0; i < warmUp; i++) await step();
  const ms: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await step();
    ms.push(performance.now() - t0);
  }
  return { ms, median: median(ms), cpuMs: cpuMillis(process.cpuUsage(cpu0)) / steps };
}

async function main(): Promise<void> {
  // tfjs is a dependency of @rlhf/trainer, not of the repository root: resolve it from there (the same
  // module instance the trainer's sources load).
  const tf: Tf = await import(
    pathToFileURL(createRequire(path.join(trainerDir, "package.json")).resolve("@tensorflow/tfjs")).href
  );
  console.log(`load_average_start ${load()}`);
  const info = await initBackend(option("backend", "auto") as BackendPreference);
  console.log(`backend ${describeBackend(info)}`);
  console.log(
    `shapes train batch ${batch} x context ${context}; generation batch ${batch}, ${genNew} new tokens`,
  );
  if (info.adapter) {
    const { vendor, architecture, description, software } = info.adapter;
    console.log(`adapter ${vendor} ${architecture} · ${description}${software ? " · SOFTWARE" : ""}`);
  }
  // Every figure below is tagged with this when the "GPU" is a CPU running the GPU API.
  const software = info.adapter?.software ? " (software adapter: CPU, not a GPU figure)" : "";
  const config = gptConfig("tiny");
  const random = mulberry32(1);
  const tokens = (n: number) => Array.from({ length: n }, () => Math.floor(random() * config.vocabSize));

  const train = await measureTraining(tf, info, config, tokens, software);
  const genTps = await measureGeneration(config, tokens, software);
  if (!flag("no-reference")) pytorchReference(config, { ...train, genTps });
  // PyTorch on this kind of machine when it is otherwise idle (shared/STACK.md), for scale.
  console.log(
    "pytorch_quiet_machine train_tokens_per_s 5400 gen_cache_tokens_per_s 1500 gen_nocache_tokens_per_s 180",
  );
  if (software) {
    console.log("ratio_quiet skipped: a software adapter is not compared with PyTorch");
  } else {
    console.log(`ratio_quiet_train ${(train.trainTps / 5400).toFixed(2)}`);
    if (train.parallelTps !== undefined)
      console.log(`ratio_quiet_train_parallel ${(train.parallelTps / 5400).toFixed(2)}`);
    console.log(`ratio_quiet_gen_cache ${((genTps.cache as number) / 1500).toFixed(2)}`);
  }
  console.log(`load_average_end ${load()}`);
}

type Config = ReturnType<typeof gptConfig>;
type Info = Awaited<ReturnType<typeof initBackend>>;

/** The training step here, on the wasm kernels without the native ones, profiled, and data-parallel. */
async function measureTraining(
  tf: Tf,
  info: Info,
  config: Config,
  tokens: (n: number) => number[],
  software: string,
): Promise<{ trainTps: number; stockTps?: number; parallelTps?: number }> {
  const model = new GPT(config, { seed: 0 });
  const x = tf.tensor2d(tokens(batch * context), [batch, context], "int32");
  const y = tf.tensor2d(tokens(batch * context), [batch, context], "int32");
  const optimizer = tf.train.adam(3e-4);
  const apply = (grads: object) =>
    optimizer.applyGradients(grads as Parameters<typeof optimizer.applyGradients>[0]);
  // The loss is read with await: a GPU backend has only asynchronous reads, and the read is what waits for
  // the step's kernels to finish.
  const trainStep = async () => {
    const loss = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () =>
          maskedCrossEntropy(model.forward(x, { returnHidden: false }).logits as ReturnType<Tf["tensor"]>, y),
        model.trainableVariables(),
      );
      apply(grads);
      return value;
    });
    const value = (await loss.data())[0] as number;
    loss.dispose();
    return value;
  };
  const step = await timeSteps(trainStep, 2);
  const trainTps = (batch * context) / (step.median / 1000);
  console.log(
    `train_step_ms ${step.median.toFixed(0)} (median of ${steps}; min ${Math.min(...step.ms).toFixed(0)})`,
  );
  console.log(`train_tokens_per_s ${trainTps.toFixed(0)}${software}`);
  // CPU time hardly depends on other processes: with a step's CPU time close to its wall time, the
  // machine was not contended.
  console.log(`train_step_cpu_ms ${step.cpuMs.toFixed(0)}`);
  // The same step on the wasm backend's own kernels (the path without g++), same run: what the native
  // kernels (src/native-kernels.ts) are worth.
  let stockTps: number | undefined;
  const native = info.name === "wasm" ? await import("@rlhf/trainer/native-kernels") : undefined;
  if (native?.nativeKernelsStatus().active) {
    native.setNativeKernels(false);
    const stock = await timeSteps(trainStep, 1);
    native.setNativeKernels(true);
    stockTps = (batch * context) / (stock.median / 1000);
    console.log(`train_tokens_per_s_wasm_kernels ${stockTps.toFixed(0)} (without the native kernels)`);
    console.log(`train_step_cpu_ms_wasm_kernels ${stock.cpuMs.toFixed(0)}`);
  } else if (native) {
    console.log(`native_kernels off: ${native.nativeKernelsStatus().reason}`);
  }
  if (flag("profile")) await profileKernels(tf, trainStep);

  // Data-parallel step: workers compute gradients on shards, the main thread averages and applies Adam.
  const workers = Number(option("workers", "2"));
  let parallelTps: number | undefined;
  if (workers > 0 && (info.name === "tensorflow" || info.name === "webgpu")) {
    console.log(`parallel skipped: ${info.name} runs the step on one device`);
  } else if (workers > 0) {
    const { DataParallel } = await import("@rlhf/trainer/parallel");
    const t0 = performance.now();
    const parallel = await DataParallel.create(model, { workers, backend: info.name });
    console.log(`parallel_workers ${workers} (started in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    const batchHost = {
      inputIds: { values: Int32Array.from(x.dataSync()), shape: [batch, context], dtype: "int32" as const },
      targets: { values: Int32Array.from(y.dataSync()), shape: [batch, context], dtype: "int32" as const },
    };
    let workerMs: number[] = [];
    const parallelStep = async () => {
      const { grads, workerMs: ms } = await parallel.gradients(batchHost);
      workerMs = ms;
      apply(grads);
      tf.dispose(Object.values(grads));
    };
    const timed = await timeSteps(parallelStep, 2);
    parallelTps = (batch * context) / (timed.median / 1000);
    console.log(
      `train_parallel_step_ms ${timed.median.toFixed(0)} (median of ${steps}; min ${Math.min(...timed.ms).toFixed(0)})`,
    );
    console.log(`train_parallel_tokens_per_s ${parallelTps.toFixed(0)}`);
    console.log(`train_parallel_step_cpu_ms ${timed.cpuMs.toFixed(0)} (all threads)`);
    console.log(`train_parallel_worker_ms ${workerMs.map((ms) => ms.toFixed(0)).join(" ")} (last step)`);
    await parallel.dispose();
  }
  optimizer.dispose();
  tf.dispose([x, y]);
  model.dispose();
  return { trainTps, stockTps, parallelTps };
}

/** Where one training step's time goes, by kernel (`--profile`). */
async function profileKernels(tf: Tf, trainStep: () => Promise<unknown>): Promise<void> {
  const registered = new Set(tf.getKernelsForBackend(tf.getBackend()).map((k) => k.kernelName));
  const profile = await tf.profile(async () => {
    await trainStep();
  });
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const k of profile.kernels) {
    if (!registered.has(k.name)) continue; // skip customGrad scopes, whose time their kernels already count
    const entry = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    entry.ms += typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
    entry.calls += 1;
    byKernel.set(k.name, entry);
  }
  const total = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
  console.log(`profile_kernel_ms_total ${total.toFixed(0)}`);
  for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)) {
    console.log(
      `profile ${name} ${e.ms.toFixed(0)} ms ${((100 * e.ms) / total).toFixed(0)}% calls ${e.calls}`,
    );
  }
}

/** Sampling with and without the KV cache: new tokens per second of each. */
async function measureGeneration(
  config: Config,
  tokens: (n: number) => number[],
  software: string,
): Promise<Record<string, number>> {
  const genModel = new GPT({ ...config, nPositions: genPrompt + genNew }, { seed: 0 });
  const prompts = Array.from({ length: batch }, () => tokens(genPrompt));
  const genTps: Record<string, number> = {};
  for (const useCache of [true, false]) {
    await generate(genModel, prompts, { maxNewTokens: 8, seed: 0, useCache }); // warm-up
    const t0 = performance.now();
    const out = await generate(genModel, prompts, { maxNewTokens: genNew, seed: 0, useCache });
    const seconds = (performance.now() - t0) / 1000;
    const produced = out.tokens.reduce((n, row) => n + row.length, 0);
    genTps[useCache ? "cache" : "nocache"] = produced / seconds;
    console.log(
      `gen_${useCache ? "cache" : "nocache"}_tokens_per_s ${(produced / seconds).toFixed(0)}${software}`,
    );
  }
  genModel.dispose();
  return genTps;
}

/** The same model in PyTorch (reference_gpt.py), same run, and our figures as ratios of its. */
function pytorchReference(
  config: Config,
  ours: { trainTps: number; stockTps?: number; parallelTps?: number; genTps: Record<string, number> },
): void {
  const script = path.join(here, "reference_gpt.py");
  const args = [script, "--threads", "2", "--batch", `${batch}`, "--context", `${context}`];
  args.push("--vocab", `${config.vocabSize}`, "--embd", `${config.nEmbd}`, "--layers", `${config.nLayer}`);
  args.push(
    "--heads",
    `${config.nHead}`,
    "--steps",
    `${steps}`,
    "--gen-prompt",
    `${genPrompt}`,
    "--gen-new",
    `${genNew}`,
  );
  // Debian's python3-torch lives in the system interpreter; a pyenv/venv python3 first on PATH may lack it.
  const python = ["python3", "/usr/bin/python3"].find(
    (exe) => spawnSync(exe, ["-c", "import torch"], { stdio: "ignore" }).status === 0,
  );
  if (!python) {
    console.log("reference skipped: no python3 with torch (python3 -c 'import torch' fails)");
    return;
  }
  const run = spawnSync(python, args, { encoding: "utf8" });
  if (run.status !== 0) {
    console.log(`reference failed: ${(run.stderr || run.stdout).trim().split("\n").pop()}`);
    return;
  }
  const ref = Object.fromEntries(
    run.stdout
      .trim()
      .split("\n")
      .map((line) => line.split(" "))
      .map(([k, v]) => [k, Number(v)]),
  ) as Record<string, number>;
  const trainRef = ref.train_tokens_per_s as number;
  const cacheRef = ref.gen_cache_tokens_per_s as number;
  const nocacheRef = ref.gen_nocache_tokens_per_s as number;
  console.log(`pytorch_train_tokens_per_s ${trainRef}`);
  console.log(`pytorch_train_step_cpu_ms ${ref.train_step_cpu_ms} (2 threads)`);
  console.log(`pytorch_gen_cache_tokens_per_s ${cacheRef}`);
  console.log(`pytorch_gen_nocache_tokens_per_s ${nocacheRef}`);
  console.log(`ratio_train ${(ours.trainTps / trainRef).toFixed(2)}`);
  if (ours.stockTps !== undefined)
    console.log(`ratio_train_wasm_kernels ${(ours.stockTps / trainRef).toFixed(2)}`);
  if (ours.parallelTps !== undefined)
    console.log(`ratio_train_parallel ${(ours.parallelTps / trainRef).toFixed(2)}`);
  console.log(`ratio_gen_cache ${((ours.genTps.cache as number) / cacheRef).toFixed(2)}`);
  console.log(`ratio_gen_nocache ${((ours.genTps.nocache as number) / nocacheRef).toFixed(2)}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
