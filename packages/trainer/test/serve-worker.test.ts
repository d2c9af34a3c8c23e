/**
 * Serve runs through the queue, with a real worker process on real PostgreSQL: a serve run is claimed in
 * the worker's serving slot while a training run holds its training slot, serves a checkpoint of that
 * still-training run over HTTP at the endpoint recorded on the run, and stops on cancel.
 */
import { cancelRun, launchRun } from "@rlhf/core/queue";
import { checkpoints, runLogs } from "@rlhf/core/schema";
import type { TestDatabase } from "@rlhf/core/testing";
import { asc, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { startWorker, tinyPretrain, waitFor, workerTestDatabase } from "./fixtures/processes";

let t: TestDatabase;
const { runRow } = workerTestDatabase((database) => {
  t = database;
});

describe("serve runs", () => {
  it("are claimed beside a training run, answer at their recorded endpoint, and stop on cancel", async () => {
    // A training run long enough to hold the worker's one training slot for the whole test.
    const training = await launchRun(t, {
      kind: "pretrain",
      config: tinyPretrain({ maxSteps: 100_000 }),
      name: "long-training",
    });
    const worker = startWorker(t.url, "w-serve", ["--concurrency", "1", "--poll", "200"]);
    const first = await waitFor(
      async () => {
        const [saved] = await t.db.select().from(checkpoints).where(eq(checkpoints.runId, training.id));
        return saved;
      },
      { timeoutMs: 120_000, what: "a checkpoint of the training run", detail: worker.output },
    );

    // Serve that checkpoint of the run while it is still training.
    const serve = await launchRun(t, {
      kind: "serve",
      config: { checkpoint: "run:long-training", step: first.step },
      name: "serve-it",
    });
    expect(serve.inputs).toEqual([]);
    const serving = await waitFor(
      async () => {
        const row = await runRow(serve.id);
        if (row.status === "failed") throw new Error(`serve run failed: ${row.error}`);
        return row.status === "running" && typeof row.summary.endpoint === "string" ? row : undefined;
      },
      { timeoutMs: 120_000, what: "the serve run's endpoint", detail: worker.output },
    );
    expect((await runRow(training.id)).status).toBe("running");
    expect(serving.workerId).toBe("w-serve");
    const endpoint = serving.summary.endpoint as string;
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(serving.summary).toMatchObject({ model: "long-training", checkpoint: first.path });

    const models = (await (await fetch(`${endpoint}/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toEqual(["long-training"]);
    const chat = await fetch(`${endpoint}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "Hello" }], max_tokens: 4 }),
    });
    // the pretraining tokenizer has the chat tokens: the format the SFT and PPO runs use
    expect(chat.status).toBe(200);

    expect((await cancelRun(t, serve.id)).outcome).toBe("requested");
    const cancelled = await waitFor(
      async () => {
        const row = await runRow(serve.id);
        return row.status === "cancelled" ? row : undefined;
      },
      { timeoutMs: 30_000, what: "the serve run to stop", detail: worker.output },
    );
    expect(cancelled.summary).toMatchObject({ endpoint, requests: 1 });
    await expect(fetch(`${endpoint}/models`)).rejects.toThrow();
    const log = await t.db
      .select({ message: runLogs.message })
      .from(runLogs)
      .where(eq(runLogs.runId, serve.id))
      .orderBy(asc(runLogs.id));
    expect(log.map((l) => l.message).join("\n")).toContain(`serving long-training at ${endpoint}`);
    expect((await runRow(training.id)).status).toBe("running");

    await cancelRun(t, training.id);
    await waitFor(async () => ((await runRow(training.id)).status === "cancelled" ? true : undefined), {
      timeoutMs: 30_000,
      what: "the training run to stop",
      detail: worker.output,
    });
  });
});
