/**
 * Rollouts of the online trainers (PPO, GRPO, RLOO): sample completions of chat prompts and lay them out as
 * flat [B, P + R] arrays — prompts left-padded to P tokens, completions right-padded to R — so the logits at
 * position P − 1 + t predict completion token t for every row at once.
 */
import * as tf from "@tensorflow/tfjs";
import { type GPT, generate, hashSeed } from "../model";
import type { DataParallel, HostTensor } from "../parallel";
import type { Tokenizer } from "../tokenizer";

export interface Completions {
  batch: number;
  promptLength: number;
  responseLength: number;
  /** [B, P + R] token ids and attention mask. */
  inputIds: Int32Array;
  attention: Float32Array;
  /** [B, R] completion tokens and their mask (1 = a real token, its end-of-text included). */
  responses: Int32Array;
  mask: Float32Array;
  /** Each completion ended with end-of-text (else it was cut at the length limit). */
  endedWithEos: boolean[];
  promptIds: number[][];
  completionIds: number[][];
  /** The completions' text (special tokens skipped). */
  texts: string[];
}

/**
 * Sample one completion per prompt (token ids, chat-formatted) at `temperature` (and `topP`); with
 * `stopAtEos` rows stop after their first end-of-text.
 *
 * With `parallel`, the data-parallel workers sample shares of the rows with their replicas, each row from its
 * own seed (derived from `seed` and the row): the completions are the same for any number of workers (not
 * the same as this thread's, which draws every row from one stream — kept so that single-threaded runs
 * reproduce).
 */
export async function sampleCompletions(
  policy: GPT,
  tokenizer: Tokenizer,
  promptIds: number[][],
  o: { maxNewTokens: number; temperature: number; topP?: number; seed: number; stopAtEos: boolean },
  parallel?: DataParallel,
): Promise<Completions> {
  const options = {
    maxNewTokens: o.maxNewTokens,
    temperature: o.temperature,
    ...(o.topP !== undefined && o.topP < 1 ? { topP: o.topP } : {}),
    eosTokenId: o.stopAtEos ? tokenizer.eosId : undefined,
    padTokenId: tokenizer.padId,
  };
  const generated = parallel
    ? await parallel.generate(
        promptIds,
        options,
        promptIds.map((_, row) => hashSeed(o.seed, `row/${row}`)),
      )
    : await generate(policy, promptIds, { ...options, seed: o.seed });
  const batch = promptIds.length;
  const P = Math.max(...promptIds.map((p) => p.length));
  const R = Math.max(1, ...generated.tokens.map((t) => t.length));
  const inputIds = new Int32Array(batch * (P + R)).fill(tokenizer.padId);
  const attention = new Float32Array(batch * (P + R));
  const responses = new Int32Array(batch * R).fill(tokenizer.padId);
  const mask = new Float32Array(batch * R);
  const endedWithEos: boolean[] = [];
  for (let b = 0; b < batch; b++) {
    const prompt = promptIds[b]!;
    const response = generated.tokens[b]!;
    const row = b * (P + R);
    prompt.forEach((id, i) => {
      inputIds[row + P - prompt.length + i] = id; // left padding
      attention[row + P - prompt.length + i] = 1;
    });
    response.forEach((id, t) => {
      inputIds[row + P + t] = id;
      attention[row + P + t] = 1;
      responses[b * R + t] = id;
      mask[b * R + t] = 1;
    });
    endedWithEos.push(response.at(-1) === tokenizer.eosId);
  }
  return {
    batch,
    promptLength: P,
    responseLength: R,
    inputIds,
    attention,
    responses,
    mask,
    endedWithEos,
    promptIds,
    completionIds: generated.tokens,
    texts: generated.tokens.map((t) => tokenizer.decode(t, { skipSpecial: true })),
  };
}

/** Rows of a [B, width] array (all of them without `rows`). */
export function pickRows<T extends Int32Array | Float32Array>(data: T, width: number, rows?: number[]): T {
  if (!rows) return data;
  const out = new (data.constructor as new (n: number) => T)(rows.length * width);
  for (const [i, row] of rows.entries()) out.set(data.subarray(row * width, (row + 1) * width), i * width);
  return out;
}

/** Some rows of a rollout as host arrays (a loss batch's inputIds, attention and responses; see parallel/losses-rl.ts). */
export function rolloutHostRows(
  r: Pick<Completions, "batch" | "promptLength" | "responseLength" | "inputIds" | "attention" | "responses">,
  rows?: number[],
): Record<"inputIds" | "attention" | "responses", HostTensor> & { b: number } {
  const b = rows?.length ?? r.batch;
  const full = r.promptLength + r.responseLength;
  return {
    b,
    inputIds: { values: pickRows(r.inputIds, full, rows), shape: [b, full], dtype: "int32" },
    attention: { values: pickRows(r.attention, full, rows), shape: [b, full], dtype: "float32" },
    responses: {
      values: pickRows(r.responses, r.responseLength, rows),
      shape: [b, r.responseLength],
      dtype: "int32",
    },
  };
}

/**
 * No-gradient statistics of a whole rollout computed by the data-parallel workers on shares of its rows
 * (parallel/losses-rl.ts rolloutStats; `options`: temperature, adapters, values), as flat [B, R] arrays.
 */
export async function workerRolloutStats(
  parallel: DataParallel,
  r: Completions,
  options: Record<string, unknown>,
): Promise<Record<string, Float32Array>> {
  const { b: _rows, ...batch } = rolloutHostRows(r);
  const rows = await parallel.rows("rolloutStats", batch, options);
  return Object.fromEntries(Object.entries(rows).map(([key, t]) => [key, t.values as Float32Array]));
}

/** Host arrays as tensors (the caller disposes them). */
export function hostTensors(batch: Record<string, HostTensor>): Record<string, tf.Tensor> {
  return Object.fromEntries(
    Object.entries(batch).map(([key, t]) => [key, tf.tensor(t.values, t.shape, t.dtype)]),
  );
}

/** Some rows of a rollout as tensors (the caller disposes them), and `pick` for its other [B, R] arrays. */
export function rolloutTensors(
  r: Pick<Completions, "batch" | "promptLength" | "responseLength" | "inputIds" | "attention" | "responses">,
  rows?: number[],
) {
  const b = rows?.length ?? r.batch;
  const full = r.promptLength + r.responseLength;
  return {
    b,
    inputIds: tf.tensor2d(pickRows(r.inputIds, full, rows), [b, full], "int32"),
    attention: tf.tensor2d(pickRows(r.attention, full, rows), [b, full], "float32"),
    responses: tf.tensor2d(pickRows(r.responses, r.responseLength, rows), [b, r.responseLength], "int32"),
    pick: (data: Float32Array) => pickRows(data, r.responseLength, rows),
  };
}

/**
 * The logits that predict each completion token, divided by the rollout temperature: [B, R, V] from the
 * positions P − 1 … P + R − 2. Also returns the forward pass's value-head output (PPO).
 */
export function completionLogits(
  model: GPT,
  inputIds: tf.Tensor2D,
  attention: tf.Tensor2D,
  promptLength: number,
  responseLength: number,
  temperature: number,
): { logits: tf.Tensor3D; values?: tf.Tensor2D } {
  const [batch] = inputIds.shape;
  const out = model.forward(inputIds, { attentionMask: attention, logits: "all", returnHidden: false });
  const vocab = out.logits!.shape[2];
  const logits = tf.div(
    tf.slice(out.logits!, [0, promptLength - 1, 0], [batch, responseLength, vocab]),
    temperature,
  ) as tf.Tensor3D;
  return { logits, values: out.values as tf.Tensor2D | undefined };
}
