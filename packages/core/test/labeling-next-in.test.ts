/**
 * An answer and the annotator's next task in one transaction (`submitRanking(..., { nextIn })`, what the
 * labeler's submit does on every answer): the next task is held for them exactly as `nextTask` would hold
 * it, a retry of the answer brings back the same next task, a refused answer hands nothing out, and the
 * pair costs one commit.
 */
import { randomUUID } from "node:crypto";
import { and, eq } from "drizzle-orm";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rankings, taskLeases, users } from "../src/db/schema";
import { createTestDatabase, type TestDatabase } from "../src/db/testing";
import {
  importJsonl,
  LabelingError,
  nextTask,
  releaseTask,
  submitRanking,
  type TaskForAnnotator,
} from "../src/labeling";

let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase("rlhf_labeling_next_in");
  await t.db
    .insert(users)
    .values(["n0", "n1", "n2"].map((id) => ({ id, name: id, email: `${id}@example.com` })));
});
afterAll(async () => {
  await t?.drop();
});

async function makeDataset(name: string, n: number, required: number): Promise<string> {
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ prompt: `${name} ${i}`, responses: [{ text: `a${i}` }, { text: `b${i}` }] }),
  );
  return (
    await importJsonl(t.db, { dataset: name, text: lines.join("\n"), requiredRankings: required, seed: 1 })
  ).datasetId;
}

const answer = (task: TaskForAnnotator, idempotencyKey = randomUUID()) => ({
  taskId: task.taskId,
  ranking: task.completions.map((c) => [c.id]),
  idempotencyKey,
});

const leasesOf = async (annotatorId: string) =>
  (await t.db.select().from(taskLeases).where(eq(taskLeases.annotatorId, annotatorId))).map((l) => l.taskId);

/** The statements `fn` sends to PostgreSQL, in order (every pg client's query calls, while it runs). */
async function statementsOf(fn: () => Promise<unknown>): Promise<string[]> {
  const sent: string[] = [];
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0] as string | { text?: string };
    sent.push(
      (typeof first === "string" ? first : (first?.text ?? "")).trim().split(/\s+/)[0]!.toLowerCase(),
    );
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  try {
    await fn();
  } finally {
    pg.Client.prototype.query = query;
  }
  return sent;
}

describe("an answer with the next task", () => {
  it("stores the answer and holds the next task for the annotator, in one commit", async () => {
    const datasetId = await makeDataset("next-in", 3, 1);
    const first = (await nextTask(t.db, { annotatorId: "n0", datasetId }))!;
    let reply!: Awaited<ReturnType<typeof submitRanking>>;
    const sent = await statementsOf(async () => {
      reply = await submitRanking(t.db, "n0", answer(first), { nextIn: datasetId });
    });
    // begin, lock the task, read, write, the hand-out (one statement: labeling_hand_out), commit.
    expect(sent.filter((s) => s === "commit")).toHaveLength(1);
    expect(sent.filter((s) => s === "begin")).toHaveLength(1);
    expect(sent.length).toBeLessThanOrEqual(6);
    expect(reply.status).toBe("recorded");
    expect(reply.next?.taskId).toBeDefined();
    expect(reply.next!.taskId).not.toBe(first.taskId);
    expect(reply.next!.completions).toHaveLength(2);
    expect(await leasesOf("n0")).toEqual([reply.next!.taskId]);
    const stored = await t.db
      .select()
      .from(rankings)
      .where(and(eq(rankings.annotatorId, "n0"), eq(rankings.taskId, first.taskId)));
    expect(stored).toHaveLength(1);
    // What nextTask would have answered: the same task, still held.
    expect((await nextTask(t.db, { annotatorId: "n0", datasetId }))!.taskId).toBe(reply.next!.taskId);
  });

  it("hands out a task, or the one already held, in one statement and no transaction of its own", async () => {
    const datasetId = await makeDataset("next-one-statement", 3, 1);
    let task: TaskForAnnotator | null = null;
    const leasing = await statementsOf(async () => {
      task = await nextTask(t.db, { annotatorId: "n2", datasetId });
    });
    expect(leasing).toEqual(["select"]);
    const again = await statementsOf(async () => {
      expect((await nextTask(t.db, { annotatorId: "n2", datasetId }))!.taskId).toBe(task!.taskId);
    });
    expect(again).toEqual(["select"]);
    expect(await leasesOf("n2")).toContain(task!.taskId);
    await releaseTask(t.db, "n2", task!.taskId);
  });

  it("a retry of the answer is a duplicate and brings back the same next task", async () => {
    const datasetId = await makeDataset("next-in-retry", 3, 1);
    const first = (await nextTask(t.db, { annotatorId: "n1", datasetId }))!;
    const sent = answer(first);
    const reply = await submitRanking(t.db, "n1", sent, { nextIn: datasetId });
    const retry = await submitRanking(t.db, "n1", sent, { nextIn: datasetId });
    expect(retry.status).toBe("duplicate");
    expect(retry.rankingId).toBe(reply.rankingId);
    expect(retry.next!.taskId).toBe(reply.next!.taskId);
    expect(await leasesOf("n1")).toEqual([reply.next!.taskId]);
  });

  it("hands nothing out when the answer is refused, and says null when no task is left", async () => {
    const datasetId = await makeDataset("next-in-refused", 2, 1);
    const held = (await nextTask(t.db, { annotatorId: "n2", datasetId }))!;
    const other = (await nextTask(t.db, { annotatorId: "n0", datasetId }))!;
    // n2 answering n0's task: refused, and the refusal leases nothing new to n2.
    await expect(submitRanking(t.db, "n2", answer(other), { nextIn: datasetId })).rejects.toBeInstanceOf(
      LabelingError,
    );
    expect(await leasesOf("n2")).toEqual([held.taskId]);
    // Its own answer: stored, and the dataset has nothing left for n2 (the other slot is n0's).
    const reply = await submitRanking(t.db, "n2", answer(held), { nextIn: datasetId });
    expect(reply.status).toBe("recorded");
    expect(reply.next).toBeNull();
    expect(await leasesOf("n2")).toEqual([]);
  });
});
