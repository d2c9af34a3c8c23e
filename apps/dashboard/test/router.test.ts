import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { authSecret, issueSessionCookie } from "@rlhf/core/auth";
import { MIGRATIONS_DIR, openDatabase } from "@rlhf/core/db";
import { createApiToken } from "@rlhf/core/ingest";
import {
  checkpoints,
  comparisonTasks,
  completions,
  datasets,
  examples,
  rankings,
  runInputs,
  runLogs,
  runs,
  samples,
  taskCompletions,
  users,
} from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import {
  adminProcedure,
  createCallerFactory,
  createContext,
  createInnerContext,
  createTRPCRouter,
  eq,
  getDatabase,
  getSession,
  protectedProcedure,
  type Session,
} from "@rlhf/core/trpc";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { bucketWidthFor, downsampleMinMax, foldPoints, toPoints } from "~/lib/buckets";
import { appRouter, type RouterInputs } from "~/server/api/root";
import { createCheckpointFileHandler } from "~/server/checkpoint-files";
import { createIngestHandler } from "~/server/ingest";

let t: TestDatabase;
const createCaller = createCallerFactory(appRouter);
const caller = () => createCaller(createInnerContext({ database: t }));

beforeAll(async () => {
  t = await createTestDatabase("rlhf_dashboard");
});
afterAll(async () => {
  await t?.drop();
});

const BASE_TIME = Date.parse("2026-01-01T00:00:00Z");

/** Write values at consecutive steps from `firstStep` (wall time: BASE_TIME + step seconds), in one statement. */
async function insertSeries(runId: string, key: string, values: number[], firstStep = 0, offset = 0) {
  const steps = values.map((_, i) => firstStep + offset + i);
  await t.pool.query(
    `insert into metrics (run_id, key, step, value, wall_time)
     select $1, $2, s, v, to_timestamp(w / 1000.0) from unnest($3::bigint[], $4::float8[], $5::float8[]) as x(s, v, w)`,
    [runId, key, steps, values, steps.map((s) => BASE_TIME + s * 1000)],
  );
}

/** Runs go after the edges between them (a parent run cannot be deleted while a run_inputs row names it). */
async function clearRuns() {
  await t.db.delete(runInputs);
  await t.db.delete(runs);
}

describe("runs.list", () => {
  beforeEach(clearRuns);

  it("is empty on an empty database", async () => {
    expect(await caller().runs.list()).toEqual({ runs: [], pipelines: [] });
  });

  it("lists runs newest first with parents, key metrics and their pipeline's chain", async () => {
    const base = Date.parse("2026-01-01T00:00:00Z");
    const pipelineId = randomUUID();
    const [pre, sft, ppo] = await t.db
      .insert(runs)
      .values([
        {
          name: "pretrain-old",
          kind: "pretrain",
          status: "succeeded",
          config: {},
          pipelineId,
          createdAt: new Date(base),
        },
        {
          name: "sft-mid",
          kind: "sft",
          status: "succeeded",
          config: {},
          pipelineId,
          createdAt: new Date(base + 1000),
        },
        {
          name: "ppo-new",
          kind: "ppo",
          status: "running",
          config: {},
          pipelineId,
          backend: "wasm",
          step: 120,
          totalSteps: 500,
          createdAt: new Date(base + 2000),
          startedAt: new Date(base + 3000),
        },
      ])
      .returning();
    await t.db.insert(runInputs).values([
      { runId: sft!.id, parentRunId: pre!.id, role: "init" },
      { runId: ppo!.id, parentRunId: sft!.id, role: "policy" },
    ]);
    await insertSeries(pre!.id, "loss", [3, 2.5, 2.25]);
    await insertSeries(pre!.id, "eval/loss", [9]); // "loss" comes first
    await insertSeries(ppo!.id, "objective/scores", [0.1, 0.4]);
    await insertSeries(ppo!.id, "objective/kl", [0, 0.02, 0.03]);
    await insertSeries(ppo!.id, "loss/policy_avg", [0.5]);

    const { runs: listed, pipelines } = await caller().runs.list();

    expect(listed.map((r) => r.name)).toEqual(["ppo-new", "sft-mid", "pretrain-old"]);
    expect(listed[0]).toMatchObject({
      kind: "ppo",
      status: "running",
      backend: "wasm",
      step: 120,
      totalSteps: 500,
      startedAt: new Date(base + 3000),
      finishedAt: null,
      parents: [{ id: sft!.id, name: "sft-mid", kind: "sft", status: "succeeded", role: "policy" }],
      keyMetrics: {
        loss: { key: "loss/policy_avg", step: 0, value: 0.5 },
        reward: { key: "objective/scores", step: 1, value: 0.4 },
        kl: { key: "objective/kl", step: 2, value: 0.03 },
        accuracy: null,
      },
    });
    expect(listed[2]!.keyMetrics.loss).toEqual({ key: "loss", step: 2, value: 2.25 });
    expect(listed[2]!.parents).toEqual([]);
    expect(listed[0]).not.toHaveProperty("config");

    expect(pipelines).toHaveLength(1);
    expect(pipelines[0]!.runs.map((r) => r.name)).toEqual(["pretrain-old", "sft-mid", "ppo-new"]);
    expect(pipelines[0]!.depth).toEqual({ [pre!.id]: 0, [sft!.id]: 1, [ppo!.id]: 2 });
  });

  it("filters by search, kind and status", async () => {
    await t.db.insert(runs).values([
      { name: "alpha-pretrain", kind: "pretrain", status: "failed", config: {} },
      { name: "beta_sft", kind: "sft", status: "running", config: {} },
      { name: "gamma", kind: "sft", status: "succeeded", config: {} },
    ]);
    const names = async (input: RouterInputs["runs"]["list"]) =>
      (await caller().runs.list(input)).runs.map((r) => r.name).sort();
    expect(await names({ search: "ALPHA", limit: 200 })).toEqual(["alpha-pretrain"]);
    expect(await names({ search: "_", limit: 200 })).toEqual(["beta_sft"]); // a literal underscore
    expect(await names({ kinds: ["sft"], limit: 200 })).toEqual(["beta_sft", "gamma"]);
    expect(await names({ kinds: ["sft"], statuses: ["succeeded", "failed"], limit: 200 })).toEqual(["gamma"]);
  });

  it("returns the latest runs up to the limit", async () => {
    const base = Date.parse("2026-01-01T00:00:00Z");
    await t.db.insert(runs).values(
      Array.from({ length: 55 }, (_, i) => ({
        name: `run-${i}`,
        kind: "sft" as const,
        config: {},
        createdAt: new Date(base + i * 1000),
      })),
    );
    const { runs: listed } = await caller().runs.list({ limit: 50 });
    expect(listed).toHaveLength(50);
    expect(listed[0]!.name).toBe("run-54");
    expect(listed[49]!.name).toBe("run-5");
  });
});

describe("runs.detail and runs.logs", () => {
  it("has the run, its keys with their last points, checkpoints, inputs and model facts", async () => {
    const [parent] = await t.db
      .insert(runs)
      .values({ name: "base", kind: "pretrain", status: "succeeded", config: {} })
      .returning();
    const [run] = await t.db
      .insert(runs)
      .values({
        name: "pre",
        kind: "pretrain",
        status: "running",
        step: 100,
        totalSteps: 300,
        config: { batchSize: 16, blockSize: 64 },
      })
      .returning();
    await t.db.insert(runInputs).values({ runId: run!.id, parentRunId: parent!.id, role: "init" });
    await insertSeries(run!.id, "loss", [4, 3, 2]);
    await insertSeries(run!.id, "eval/bits_per_byte", [2.5, 2.1]);
    await insertSeries(run!.id, "perf/tokens_per_sec", [900]);
    await insertSeries(run!.id, "eval/ngram_bits_per_byte", [2.4]);
    await insertSeries(run!.id, "compress/bits_per_byte", [1.9]);
    await insertSeries(run!.id, "compress/gzip_bits_per_byte", [2.9]);
    const dir = await mkdtemp(path.join(tmpdir(), "ckpt-"));
    await writeFile(
      path.join(dir, "config.json"),
      JSON.stringify({ vocab_size: 512, n_positions: 96, n_embd: 128, n_layer: 4, n_head: 4 }),
    );
    await t.db.insert(checkpoints).values([
      { runId: run!.id, step: 50, path: dir, metrics: { loss: 3 } },
      { runId: run!.id, step: 100, path: "/nowhere/for/this/server", metrics: { loss: 2 } },
    ]);

    const detail = await caller().runs.detail({ id: run!.id });

    expect(detail.run).toMatchObject({ id: run!.id, name: "pre", config: { batchSize: 16, blockSize: 64 } });
    expect(detail.keys).toEqual([
      { key: "compress/bits_per_byte", step: 0, value: 1.9 },
      { key: "compress/gzip_bits_per_byte", step: 0, value: 2.9 },
      { key: "eval/bits_per_byte", step: 1, value: 2.1 },
      { key: "eval/ngram_bits_per_byte", step: 0, value: 2.4 },
      { key: "loss", step: 2, value: 2 },
      { key: "perf/tokens_per_sec", step: 0, value: 900 },
    ]);
    expect(detail.checkpoints.map((c) => c.step)).toEqual([100, 50]);
    expect(detail.inputs).toEqual([{ role: "init", id: parent!.id, name: "base", status: "succeeded" }]);
    const parameters = 512 * 128 + 96 * 128 + 4 * (12 * 128 * 128 + 13 * 128) + 2 * 128;
    expect(detail.facts).toEqual({
      architecture: { vocab_size: 512, n_positions: 96, n_embd: 128, n_layer: 4, n_head: 4 },
      parameters,
      tokensSeen: 100 * 16 * 64,
      tokensEstimated: true,
      tokensPerParameter: (100 * 16 * 64) / parameters,
      bitsPerByte: 2.1,
      ngramBitsPerByte: 2.4,
      ngramLabel: "n-gram", // no ngram_order in the summary
      compression: { bitsPerByte: 1.9, gzipBitsPerByte: 2.9, bytes: null },
    });
    await rm(dir, { recursive: true });
  });

  it("answers NOT_FOUND for an unknown run", async () => {
    await expect(caller().runs.detail({ id: randomUUID() })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("tails the log: the newest lines first, then only the lines after the cursor", async () => {
    const [run] = await t.db.insert(runs).values({ name: "logs", kind: "sft", config: {} }).returning();
    await t.db
      .insert(runLogs)
      .values(Array.from({ length: 5 }, (_, i) => ({ runId: run!.id, message: `line ${i}` })));
    const first = await caller().runs.logs({ runId: run!.id });
    expect(first.map((l) => l.message)).toEqual(["line 0", "line 1", "line 2", "line 3", "line 4"]);
    await t.db.insert(runLogs).values({ runId: run!.id, message: "line 5", level: "warn" });
    const next = await caller().runs.logs({ runId: run!.id, afterId: first.at(-1)!.id });
    expect(next.map((l) => [l.message, l.level])).toEqual([["line 5", "warn"]]);
  });
});

describe("metrics", () => {
  /** A noisy falling curve with a few spikes and dips. */
  const curve = (n: number) =>
    Array.from({ length: n }, (_, i) => {
      const noise = Math.sin(i * 12.9898) * 43_758.5453;
      return (
        3 / (1 + i / 500) +
        0.2 * (noise - Math.floor(noise)) +
        (i % 997 === 500 ? 10 : 0) -
        (i % 1499 === 700 ? 5 : 0)
      );
    });

  it("downsamples in SQL to min, max and last of aligned buckets, with wall times", async () => {
    const [run] = await t.db.insert(runs).values({ name: "big", kind: "pretrain", config: {} }).returning();
    const values = curve(20_000);
    await insertSeries(run!.id, "loss", values, 5); // steps 5, 6, …

    const series = await caller().metrics.series({ runIds: [run!.id], key: "loss", buckets: 400 });

    expect(series.bucketWidth).toBe(bucketWidthFor(5, 20_004, 400));
    const raw = values.map((value, i) => ({ step: i + 5, value, time: BASE_TIME + (i + 5) * 1000 }));
    const expected = downsampleMinMax(raw, series.bucketWidth);
    expect(toPoints(series.runs[0]!)).toEqual(expected);
    expect(series.runs[0]!.steps.length).toBeLessThanOrEqual(3 * 400);
    // Every spike and dip survives, and the curve ends at the last point.
    for (const [i, v] of values.entries())
      if (v > 5 || v < -1) expect(series.runs[0]!.steps).toContain(i + 5);
    expect(series.runs[0]!.steps.at(-1)).toBe(20_004);
    expect(series.runs[0]!.values.at(-1)).toBe(values.at(-1));
  });

  it("gives every run on a chart the same bucket width, and finer buckets for a zoomed range", async () => {
    const [a, b] = await t.db
      .insert(runs)
      .values([
        { name: "long", kind: "sft", config: {} },
        { name: "short", kind: "sft", config: {} },
      ])
      .returning();
    await insertSeries(a!.id, "loss", curve(8000));
    await insertSeries(b!.id, "loss", curve(1000));
    const both = await caller().metrics.series({ runIds: [b!.id, a!.id], key: "loss", buckets: 200 });
    expect(both.bucketWidth).toBe(64);
    expect(both.runs.map((r) => r.runId)).toEqual([b!.id, a!.id]);
    // The short run's points are exactly those of its own series at the chart's width.
    const shortRaw = curve(1000).map((value, step) => ({ step, value, time: BASE_TIME + step * 1000 }));
    expect(toPoints(both.runs[0]!)).toEqual(downsampleMinMax(shortRaw, 64));

    const zoom = await caller().metrics.series({
      runIds: [a!.id],
      key: "loss",
      buckets: 200,
      fromStep: 1000,
      toStep: 1399,
    });
    expect(zoom.bucketWidth).toBe(2);
    expect(Math.min(...zoom.runs[0]!.steps)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...zoom.runs[0]!.steps)).toBeLessThanOrEqual(1399);
  });

  it("returns only the points after each cursor, and folding them equals downsampling everything", async () => {
    const [run] = await t.db.insert(runs).values({ name: "live", kind: "pretrain", config: {} }).returning();
    const values = curve(3000);
    await insertSeries(run!.id, "loss", values.slice(0, 2000));
    await insertSeries(run!.id, "lr", [1, 2, 3]);
    const first = await caller().metrics.series({ runIds: [run!.id], key: "loss", buckets: 100 });
    const width = first.bucketWidth;

    await insertSeries(run!.id, "loss", values.slice(2000), 0, 2000);
    const [update, lr] = await caller().metrics.since({
      cursors: [
        { runId: run!.id, key: "loss", afterStep: first.runs[0]!.steps.at(-1)! },
        { runId: run!.id, key: "lr", afterStep: 1 },
      ],
    });
    expect(update!.steps).toEqual(Array.from({ length: 1000 }, (_, i) => 2000 + i));
    expect(update!.values).toEqual(values.slice(2000));
    expect(update!.times[0]).toBe(BASE_TIME + 2000 * 1000);
    expect(lr).toMatchObject({ key: "lr", steps: [2], values: [3] });

    const folded = foldPoints(toPoints(first.runs[0]!), toPoints(update!), width);
    const whole = await caller().metrics.series({ runIds: [run!.id], key: "loss", buckets: 150 });
    expect(whole.bucketWidth).toBe(width);
    expect(folded).toEqual(toPoints(whole.runs[0]!));

    const nothing = await caller().metrics.since({
      cursors: [{ runId: run!.id, key: "loss", afterStep: 2999 }],
    });
    expect(nothing[0]!.steps).toEqual([]);
  });

  it("lists each key of several runs with every run's last point", async () => {
    const [a, b] = await t.db
      .insert(runs)
      .values([
        { name: "ka", kind: "sft", config: {} },
        { name: "kb", kind: "sft", config: {} },
      ])
      .returning();
    await insertSeries(a!.id, "loss", [2, 1]);
    await insertSeries(a!.id, "eval/loss", [3]);
    await insertSeries(b!.id, "loss", [5]);
    expect(await caller().metrics.keys({ runIds: [a!.id, b!.id] })).toEqual([
      { key: "eval/loss", last: { [a!.id]: { key: "eval/loss", step: 0, value: 3 } } },
      {
        key: "loss",
        last: { [a!.id]: { key: "loss", step: 1, value: 1 }, [b!.id]: { key: "loss", step: 0, value: 5 } },
      },
    ]);
  });

  it("rejects a zoom range that ends before it starts", async () => {
    await expect(
      caller().metrics.series({ runIds: [randomUUID()], key: "loss", buckets: 100, fromStep: 10, toStep: 5 }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });
});

describe("samples", () => {
  it("lists steps, a step's samples, a search, and two sides matched by prompt", async () => {
    const [a, b] = await t.db
      .insert(runs)
      .values([
        { name: "sa", kind: "ppo", config: {} },
        { name: "sb", kind: "ppo", config: {} },
      ])
      .returning();
    await t.db.insert(samples).values([
      { runId: a!.id, step: 0, prompt: "Tell me about tea.", response: "Tea is bad.", reward: -1, kl: 0 },
      { runId: a!.id, step: 0, prompt: "Describe rain.", response: "Rain is cold.", reward: -0.5, kl: 0 },
      {
        runId: a!.id,
        step: 10,
        prompt: "Tell me about tea.",
        response: "Tea is lovely!",
        reward: 2,
        kl: 0.3,
      },
      { runId: b!.id, step: 4, prompt: "Tell me about tea.", response: "Tea is fine.", reward: 0.5, kl: 0.1 },
    ]);

    expect(await caller().samples.steps({ runId: a!.id })).toEqual([
      { step: 0, count: 2 },
      { step: 10, count: 1 },
    ]);
    const step0 = await caller().samples.list({ runId: a!.id, step: 0 });
    expect(step0.map((s) => s.response)).toEqual(["Tea is bad.", "Rain is cold."]);
    const found = await caller().samples.list({ runId: a!.id, search: "LOVELY" });
    expect(found).toMatchObject([{ step: 10, reward: 2, kl: 0.3 }]);

    const steps = await caller().samples.sideBySide({
      a: { runId: a!.id, step: 0 },
      b: { runId: a!.id, step: 10 },
    });
    expect(steps.map((r) => [r.prompt, r.a.map((s) => s.response), r.b.map((s) => s.response)])).toEqual([
      ["Tell me about tea.", ["Tea is bad."], ["Tea is lovely!"]],
      ["Describe rain.", ["Rain is cold."], []],
    ]);
    const twoRuns = await caller().samples.sideBySide({
      a: { runId: a!.id, step: 10 },
      b: { runId: b!.id, step: 4 },
      search: "tea",
    });
    expect(twoRuns).toMatchObject([
      {
        prompt: "Tell me about tea.",
        a: [{ response: "Tea is lovely!" }],
        b: [{ response: "Tea is fine." }],
      },
    ]);
  });
});

describe("launch", () => {
  const admin: Session = { user: { id: "ada", name: "Ada", email: "ada@example.com", role: "admin" } };
  const annotator: Session = {
    user: { id: "ann", name: "Ann", email: "ann@example.com", role: "annotator" },
  };
  // A same-origin browser request, as the dashboard's own pages send.
  const headers = new Headers({ origin: "http://localhost:3000", host: "localhost:3000" });
  const as = (session: Session | null) => createCaller(createInnerContext({ database: t, session, headers }));

  it("lets only admins launch and cancel", async () => {
    await expect(as(null).launch.run({ kind: "pretrain", config: {} })).rejects.toMatchObject({
      code: "UNAUTHORIZED",
    });
    await expect(as(annotator).launch.run({ kind: "pretrain", config: {} })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await expect(as(annotator).launch.demo()).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(as(annotator).launch.cancel({ id: randomUUID() })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
  });

  it("answers an invalid config with the issues by field, and creates nothing", async () => {
    const before = await t.db.$count(runs);
    const result = await as(admin).launch.run({
      kind: "pretrain",
      config: { maxSteps: 0, model: { nEmbd: 30 }, tokenizer: { vocabSize: 100 } },
    });
    expect(result).toEqual({
      ok: false,
      issues: expect.arrayContaining([
        expect.objectContaining({ path: "maxSteps", message: expect.any(String) }),
        expect.objectContaining({ path: "model.nEmbd", message: expect.stringMatching(/multiple of 8/) }),
        expect.objectContaining({ path: "tokenizer.vocabSize", message: expect.any(String) }),
      ]),
    });
    const missing = await as(admin).launch.run({ kind: "sft", config: { init: "run:no-such-run" } });
    expect(missing).toEqual({
      ok: false,
      issues: [
        {
          path: "init",
          message: expect.stringMatching(/matches no run/),
          // The same words as a code, for a page in another language.
          text: expect.objectContaining({ code: "noSuchRun", params: { ref: "no-such-run" } }),
        },
      ],
    });
    expect(await t.db.$count(runs)).toBe(before);
  });

  it("queues a valid run with its inputs, and cancels it", async () => {
    const [base] = await t.db
      .insert(runs)
      .values({ name: "launch-base", kind: "pretrain", status: "succeeded", config: {} })
      .returning();
    const result = await as(admin).launch.run({
      kind: "sft",
      name: "my sft",
      config: { init: `run:${base!.id}`, maxSteps: 5 },
    });
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.run).toMatchObject({
      name: "my sft",
      kind: "sft",
      inputs: [{ parentRunId: base!.id, role: "init" }],
    });
    const [row] = await t.db.select().from(runs).where(eq(runs.id, result.run.id));
    expect(row).toMatchObject({
      status: "queued",
      config: expect.objectContaining({ maxSteps: 5, batchSize: 16 }),
    });

    expect(await as(admin).launch.cancel({ id: result.run.id })).toMatchObject({
      outcome: "cancelled",
      status: "cancelled",
    });
    await expect(as(admin).launch.cancel({ id: randomUUID() })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("queues the demo pipeline as one chain, reward and DPO waiting for the generated rankings", async () => {
    const { pipelineId, runs: launched } = await as(admin).launch.demo({ quick: true });
    expect(launched.map((r) => r.name)).toEqual([
      "demo-quick-pretrain",
      "demo-quick-sft",
      "demo-quick-generate",
      "demo-quick-reward",
      "demo-quick-ppo",
      "demo-quick-grpo",
      "demo-quick-grpo-oracle",
      "demo-quick-rloo",
      "demo-quick-dpo",
    ]);
    const chain = (await caller().runs.list()).pipelines.find((p) => p.pipelineId === pipelineId)!;
    const depthOf = (name: string) =>
      chain.depth[chain.runs.find((r) => r.name === `demo-quick-${name}`)!.id];
    // GRPO on the oracle needs no reward model: it hangs off the SFT model alone.
    const stages = ["pretrain", "sft", "generate", "reward", "ppo", "grpo", "grpo-oracle", "rloo", "dpo"];
    expect(stages.map(depthOf)).toEqual([0, 1, 2, 3, 4, 4, 2, 4, 3]);
    const datasetNames = (await t.db.select({ name: datasets.name }).from(datasets)).map((d) => d.name);
    expect(datasetNames).toContain("demo-corpus");
    for (const r of launched) await as(admin).launch.cancel({ id: r.id });
  });

  it("offers runs with their checkpoints and datasets by kind for the form's pickers", async () => {
    const [run] = await t.db
      .insert(runs)
      .values({ name: "picker", kind: "sft", status: "succeeded", config: {} })
      .returning();
    await t.db.insert(checkpoints).values({ runId: run!.id, step: 7, path: "/ckpt/7", isFinal: true });
    const options = await createCaller(createInnerContext({ database: t, session: admin })).launch.options();
    expect(options.runs.find((r) => r.id === run!.id)).toMatchObject({
      name: "picker",
      checkpoints: [{ step: 7, path: "/ckpt/7", isFinal: true }],
    });
    // Someone not signed in sees no absolute path.
    const anonymous = await caller().launch.options();
    expect(anonymous.runs.find((r) => r.id === run!.id)!.checkpoints[0]!.path).toBe("…/7");
    expect(options.datasets).toContainEqual({ name: "demo-sft", kind: "sft" });
  });
});

describe("data.overview", () => {
  it("has sizes, labeling progress, agreement and the pairs available for training", async () => {
    const [prefs] = await t.db
      .insert(datasets)
      .values({ name: "prefs-x", kind: "preferences", requiredRankings: 2 })
      .returning();
    const [corpus] = await t.db.insert(datasets).values({ name: "corpus-x", kind: "text" }).returning();
    await t.db.insert(examples).values([
      { datasetId: corpus!.id, idx: 0, text: "a" },
      { datasetId: corpus!.id, idx: 1, text: "b" },
      { datasetId: corpus!.id, idx: 2, text: "c", split: "eval" },
    ]);
    const made = await t.db
      .insert(completions)
      .values(["c0", "c1", "c2"].map((response) => ({ prompt: "p", response, source: "human" })))
      .returning();
    const [c0, c1, c2] = made.map((c) => c.id) as [string, string, string];
    const [task, other] = await t.db
      .insert(comparisonTasks)
      .values([
        { datasetId: prefs!.id, prompt: "p", requiredRankings: 2, rankingCount: 2 },
        { datasetId: prefs!.id, prompt: "q", requiredRankings: 2, rankingCount: 1 },
      ])
      .returning();
    await t.db.insert(taskCompletions).values([
      { taskId: task!.id, completionId: c0, position: 0 },
      { taskId: task!.id, completionId: c1, position: 1 },
      { taskId: task!.id, completionId: c2, position: 2 },
    ]);
    await t.db
      .insert(users)
      .values([
        { id: "u1", name: "U1", email: "u1@example.com" },
        { id: "u2", name: "U2", email: "u2@example.com" },
      ])
      .onConflictDoNothing();
    await t.db.insert(rankings).values([
      { taskId: task!.id, annotatorId: "u1", ranking: [[c0], [c1], [c2]] }, // 3 pairs
      { taskId: task!.id, annotatorId: "u2", ranking: [[c0], [c2, c1]] }, // 2 pairs (c1 = c2)
      { taskId: other!.id, annotatorId: "u1", skipped: true },
    ]);

    const overview = await caller().data.overview();
    const byName = (name: string) => overview.find((d) => d.name === name)!;
    expect(byName("corpus-x")).toMatchObject({
      kind: "text",
      examples: { train: 2, eval: 1 },
      tasks: 0,
      pairs: 0,
    });
    expect(byName("prefs-x")).toMatchObject({
      tasks: 2,
      completeTasks: 1,
      rankingsNeeded: 4,
      rankings: 3,
      skipped: 1,
      annotators: 2,
      completions: 3,
      pairs: 5,
      // c0>c1 and c0>c2 agree; c1 vs c2 (better vs tie) does not.
      agreement: { overlappingTasks: 1, pairwiseAgreement: 2 / 3 },
    });
  });
});

describe("POST /api/ingest", () => {
  const post = createIngestHandler(async () => t);
  const request = (body: unknown, token?: string) =>
    new Request("http://localhost/api/ingest", {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  it("refuses a missing or unknown token with 401", async () => {
    const none = await post(request({ run: { name: "x" } }));
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: string }).error).toMatch(/Bearer/);
    expect((await post(request({ run: { name: "x" } }, "rlhf_nope"))).status).toBe(401);
  });

  it("creates an external run, appends to it, and reports bad payloads with 400", async () => {
    const { token } = await createApiToken(t, { name: "ci" });
    const created = await post(
      request(
        {
          run: { name: "trl-ppo", totalSteps: 10 },
          metrics: [{ step: 0, values: { "objective/kl": 0.01 } }],
        },
        token,
      ),
    );
    expect(created.status).toBe(200);
    const body = (await created.json()) as { runId: string; created: boolean; written: { metrics: number } };
    expect(body).toMatchObject({ created: true, written: { metrics: 1 } });
    const again = await post(
      request({ run: { id: body.runId }, metrics: [{ step: 1, values: { "objective/kl": 0.02 } }] }, token),
    );
    expect(again.status).toBe(200);
    expect((await caller().metrics.keys({ runIds: [body.runId] }))[0]!.last[body.runId]).toMatchObject({
      step: 1,
      value: 0.02,
    });

    const bad = await post(request({ run: {}, metrics: [{ step: -1, values: {} }] }, token));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(["run", "metrics.0.step"]),
    );
    expect((await post(request("{not json", token))).status).toBe(400);
  });

  it("answers 409 for a run of the workbench", async () => {
    const { token } = await createApiToken(t, { name: "ci2" });
    const [run] = await t.db.insert(runs).values({ name: "internal", kind: "sft", config: {} }).returning();
    expect((await post(request({ run: { id: run!.id } }, token))).status).toBe(409);
  });
});

describe("GET /api/checkpoints/<id>/<file>", () => {
  const get = createCheckpointFileHandler(async () => t);
  let cookie = "";
  const call = (id: string, file: string, headers: Record<string, string> = { cookie }) =>
    get(new Request(`http://localhost/api/checkpoints/${id}/${file}`, { headers }), {
      params: Promise.resolve({ id, file }),
    });

  it("streams a checkpoint's config, weights and tokenizer, and nothing else; only to people signed in", async () => {
    await t.db
      .insert(users)
      .values({ id: "reader", name: "Reader", email: "reader@example.com" })
      .onConflictDoNothing();
    cookie = await issueSessionCookie(t.db, "reader", { secret: authSecret() });
    const dir = await mkdtemp(path.join(tmpdir(), "ckpt-"));
    const weights = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    await writeFile(path.join(dir, "model.safetensors"), weights);
    await writeFile(path.join(dir, "config.json"), '{"n_embd":32}');
    await writeFile(path.join(dir, "secret.txt"), "no");
    const [run] = await t.db.insert(runs).values({ name: "files", kind: "pretrain", config: {} }).returning();
    const [checkpoint] = await t.db
      .insert(checkpoints)
      .values({ runId: run!.id, step: 1, path: dir })
      .returning();

    const anonymous = await call(checkpoint!.id, "model.safetensors", {});
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: string }).error).toMatch(/sign in/);
    const model = await call(checkpoint!.id, "model.safetensors");
    expect(model.status).toBe(200);
    expect(model.headers.get("content-length")).toBe("70000");
    expect(Buffer.from(await model.arrayBuffer()).equals(weights)).toBe(true);
    const config = await call(checkpoint!.id, "config.json");
    expect(config.headers.get("content-type")).toBe("application/json");
    expect(await config.json()).toEqual({ n_embd: 32 });

    expect((await call(checkpoint!.id, "secret.txt")).status).toBe(404);
    expect((await call(checkpoint!.id, "../secret.txt")).status).toBe(404);
    const missing = await call(checkpoint!.id, "tokenizer.json");
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toMatch(/not readable from this server/);
    expect((await call(randomUUID(), "config.json")).status).toBe(404);
    await rm(dir, { recursive: true });
  });
});

describe("session.me", () => {
  it("is the signed-in user, or null", async () => {
    expect(await caller().session.me()).toBeNull();
    const user = { id: "ada", name: "Ada", email: "ada@example.com", role: "admin" as const };
    expect(await createCaller(createInnerContext({ database: t, session: { user } })).session.me()).toEqual(
      user,
    );
  });
});

describe("health.status", () => {
  it("reports the server, the applied migrations and what the database holds", async () => {
    await clearRuns();
    await t.db.delete(datasets);
    await t.db.delete(users);
    await t.db.insert(runs).values({ name: "r", kind: "reward", config: {} });
    const [dataset] = await t.db.insert(datasets).values({ name: "prefs", kind: "preferences" }).returning();
    const [task] = await t.db
      .insert(comparisonTasks)
      .values([
        { datasetId: dataset!.id, prompt: "a" },
        { datasetId: dataset!.id, prompt: "b" },
      ])
      .returning();
    await t.db.insert(users).values({ id: "ann", name: "Ann", email: "ann@example.com" });
    await t.db.insert(rankings).values({ taskId: task!.id, annotatorId: "ann", skipped: true });

    const status = await caller().health.status();

    const journal = JSON.parse(readFileSync(path.join(MIGRATIONS_DIR, "meta/_journal.json"), "utf8")) as {
      entries: unknown[];
    };
    expect(status).toEqual({
      database: {
        mode: t.mode,
        ok: true,
        serverVersion: expect.stringMatching(/^\d+(\.\d+)?/),
        migrations: journal.entries.length,
      },
      counts: { runs: 1, datasets: 1, comparisonTasks: 2, rankings: 1 },
    });
  });

  it("says why when the database cannot be queried", async () => {
    // A second pool on the test database (not a second test database: dropping one would end this
    // process's lease on the embedded server), closed before the call.
    const gone = await openDatabase({ url: t.url, migrate: false });
    await gone.close();
    const status = await createCaller(createInnerContext({ database: gone })).health.status();
    expect(status).toEqual({
      database: { mode: gone.mode, ok: false, error: expect.stringMatching(/pool/i) },
      counts: null,
    });
  });
});

describe("shared procedures", () => {
  const router = createTRPCRouter({
    me: protectedProcedure.query(({ ctx }) => ctx.session.user.id),
    admin: adminProcedure.query(() => "admin only"),
    rename: protectedProcedure
      .input(z.object({ name: z.string().min(3) }))
      .mutation(({ input }) => input.name),
  });
  const as = (session: Session | null) =>
    createCallerFactory(router)(createInnerContext({ database: t, session }));
  const annotator: Session = {
    user: { id: "ann", name: "Ann", email: "ann@example.com", role: "annotator" },
  };
  const admin: Session = { user: { id: "ada", name: "Ada", email: "ada@example.com", role: "admin" } };

  it("protectedProcedure refuses a caller without a session", async () => {
    await expect(as(null).me()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    expect(await as(annotator).me()).toBe("ann");
  });

  it("adminProcedure refuses anyone but an admin", async () => {
    await expect(as(null).admin()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    await expect(as(annotator).admin()).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(await as(admin).admin()).toBe("admin only");
  });

  it("puts zod's field errors in error.data.zodError over HTTP", async () => {
    const response = await fetchRequestHandler({
      endpoint: "/api/trpc",
      router,
      req: new Request("http://localhost/api/trpc/rename", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ json: { name: "x" } }),
      }),
      createContext: () => createInnerContext({ database: t, session: admin }),
    });
    const body = (await response.json()) as {
      error: { json: { data: { code: string; zodError: { fieldErrors: Record<string, string[]> } } } };
    };
    expect(response.status).toBe(400);
    expect(body.error.json.data.code).toBe("BAD_REQUEST");
    expect(body.error.json.data.zodError.fieldErrors.name).toEqual([expect.stringMatching(/3/)]);
  });

  it("createContext opens one database per process; a cookie of no session is no session", async () => {
    expect(await getSession(new Headers({ cookie: "session=abc" }), t.db)).toBeNull();
    const headers = new Headers({ "x-test": "1" });
    const first = await createContext({ headers, database: { url: t.url } });
    const second = await createContext({ headers, database: { url: t.url } });
    expect(first.session).toBeNull();
    expect(first.headers.get("x-test")).toBe("1");
    expect(first.database.mode).toBe("external");
    expect(second.db).toBe(first.db);
    await (await getDatabase()).close();
  });
});
