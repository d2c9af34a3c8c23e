import { randomUUID } from "node:crypto";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { comparisonTasks, datasets, rankings, taskLeases, users } from "../src/db/schema";
import { createTestDatabase, type TestDatabase } from "../src/db/testing";
import { ImportError, trlConversationalPreferenceSchema, trlPreferenceSchema } from "../src/formats";
import {
  annotatorProgress,
  annotatorStats,
  datasetAgreement,
  datasetLeaderboard,
  datasetsProgress,
  exportPreferences,
  goldAccuracy,
  importJsonl,
  LabelingError,
  nextTask,
  ownRanking,
  submitRanking,
  type TaskForAnnotator,
  undoLastRanking,
} from "../src/labeling";

let t: TestDatabase;
const key = () => randomUUID();

beforeAll(async () => {
  t = await createTestDatabase("rlhf_labeling");
  await t.db.insert(users).values(
    Array.from({ length: 12 }, (_, i) => ({
      id: `a${i}`,
      name: `Annotator ${i}`,
      email: `a${i}@example.com`,
    })),
  );
});
afterAll(async () => {
  await t?.drop();
});

/** A preferences dataset of `n` tasks with `k` responses each (sources m0..m{k-1}), needing `required` rankings. */
async function makeDataset(name: string, n: number, k: number, required: number): Promise<string> {
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      prompt: `${name} prompt ${i}`,
      responses: Array.from({ length: k }, (_, j) => ({ text: `response ${j} to ${i}`, source: `m${j}` })),
    }),
  );
  const result = await importJsonl(t.db, {
    dataset: name,
    text: lines.join("\n"),
    requiredRankings: required,
    seed: 1,
  });
  return result.datasetId;
}

const strict = (task: TaskForAnnotator) => task.completions.map((c) => [c.id]);

describe("next task", () => {
  it("holds a task for its annotator, gives it back on reload, and hands others the remaining open slots only", async () => {
    const datasetId = await makeDataset("dist-basic", 2, 2, 1);
    const first = await nextTask(t.db, { annotatorId: "a0", datasetId });
    expect(first).not.toBeNull();
    expect(first!.completions.map((c) => c.position)).toEqual([0, 1]);
    expect(Object.keys(first!.completions[0]!)).toEqual(["id", "position", "response"]); // no source shown
    const again = await nextTask(t.db, { annotatorId: "a0", datasetId });
    expect(again!.taskId).toBe(first!.taskId);

    const second = await nextTask(t.db, { annotatorId: "a1", datasetId });
    expect(second!.taskId).not.toBe(first!.taskId);
    // Both tasks' single slots are held: a third annotator gets nothing.
    expect(await nextTask(t.db, { annotatorId: "a2", datasetId })).toBeNull();
    // An expired lease frees its slot.
    await t.db
      .update(taskLeases)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(taskLeases.annotatorId, "a1"));
    expect((await nextTask(t.db, { annotatorId: "a2", datasetId }))!.taskId).toBe(second!.taskId);
  });

  it("never gives the last open slot to two annotators asking at once", async () => {
    const datasetId = await makeDataset("dist-last-slot", 1, 2, 1);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => nextTask(t.db, { annotatorId: `a${i}`, datasetId })),
    );
    expect(results.filter((r) => r !== null)).toHaveLength(1);
  });

  it("with concurrent annotators, every task ends with exactly its required rankings and nobody ranks one twice", async () => {
    const datasetId = await makeDataset("dist-concurrent", 20, 3, 3);
    const outcomes = { recorded: 0, conflicts: 0 };
    await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const annotatorId = `a${i}`;
        for (;;) {
          const task = await nextTask(t.db, { annotatorId, datasetId });
          if (!task) {
            // Nothing for them now; slots held by others may come back if those others give up.
            const { rows } = await t.pool.query(
              `select count(*)::int as n from comparison_tasks c where c.dataset_id = $1
                 and c.ranking_count < c.required_rankings
                 and not exists (select 1 from rankings r where r.task_id = c.id and r.annotator_id = $2)`,
              [datasetId, annotatorId],
            );
            if (rows[0].n === 0) return;
            await new Promise((resolve) => setTimeout(resolve, 5));
            continue;
          }
          const result = await submitRanking(t.db, annotatorId, {
            taskId: task.taskId,
            ranking: strict(task),
            idempotencyKey: key(),
          }).catch((error: Error) => error);
          if (result instanceof Error) outcomes.conflicts++;
          else outcomes.recorded++;
        }
      }),
    );
    expect(outcomes).toEqual({ recorded: 60, conflicts: 0 });
    const counts = await t.pool.query(
      `select t.id, t.ranking_count, (select count(*)::int from rankings r where r.task_id = t.id) as stored
       from comparison_tasks t where t.dataset_id = $1`,
      [datasetId],
    );
    for (const row of counts.rows) expect([row.ranking_count, row.stored]).toEqual([3, 3]);
  });

  it("serves gold tasks to everyone, beyond the required count", async () => {
    const text = [
      JSON.stringify({ prompt: "gold?", responses: ["right", "wrong"], gold: [[0], [1]] }),
      JSON.stringify({ prompt: "normal", responses: ["x", "y"] }),
    ].join("\n");
    const { datasetId, gold } = await importJsonl(t.db, { dataset: "dist-gold", text, seed: 3 });
    expect(gold).toBe(1);
    for (const annotatorId of ["a0", "a1"]) {
      const task = await nextTask(t.db, { annotatorId, datasetId, random: () => 0 });
      expect(task!.prompt).toBe("gold?");
      const right = task!.completions.find((c) => c.response === "right")!.id;
      const wrong = task!.completions.find((c) => c.response === "wrong")!.id;
      await submitRanking(t.db, annotatorId, {
        taskId: task!.taskId,
        ranking: annotatorId === "a0" ? [[right], [wrong]] : [[wrong], [right]],
        idempotencyKey: key(),
      });
    }
    expect(await goldAccuracy(t.db, datasetId)).toEqual([
      { annotatorId: "a0", email: "a0@example.com", goldTasks: 1, pairs: 1, accuracy: 1 },
      { annotatorId: "a1", email: "a1@example.com", goldTasks: 1, pairs: 1, accuracy: 0 },
    ]);
  });
});

describe("submissions", () => {
  let datasetId: string;
  let pairwise: TaskForAnnotator;
  beforeAll(async () => {
    datasetId = await makeDataset("submit-rules", 4, 2, 1);
    pairwise = (await nextTask(t.db, { annotatorId: "a0", datasetId }))!;
  });

  it("rejects a ranking that is not a permutation of the task's responses, or names another task's, with the reason", async () => {
    const other = await t.pool.query(
      "select completion_id from task_completions where task_id <> $1 limit 1",
      [pairwise.taskId],
    );
    const [a, b] = pairwise.completions.map((c) => c.id);
    const attempt = (ranking: string[][]) =>
      submitRanking(t.db, "a0", { taskId: pairwise.taskId, ranking, idempotencyKey: key() });
    await expect(attempt([[a!]])).rejects.toThrow(/^ranking leaves out 1 of the task's 2 responses/);
    await expect(attempt([[a!], [a!]])).rejects.toThrow(`ranking lists response ${a} twice`);
    await expect(attempt([[a!], [other.rows[0].completion_id]])).rejects.toThrow(
      /ranking names response .*, which is not one of this task's responses/,
    );
    await expect(
      submitRanking(t.db, "a0", {
        taskId: pairwise.taskId,
        ranking: [[a!, b!]],
        strength: 2,
        idempotencyKey: key(),
      }),
    ).rejects.toThrow("strength: only a pairwise answer with a winner has a strength");
    await expect(
      submitRanking(t.db, "a0", {
        taskId: pairwise.taskId,
        ranking: [[a!], [b!]],
        flags: { [other.rows[0].completion_id]: ["spam"] },
        idempotencyKey: key(),
      }),
    ).rejects.toThrow(/^flags: response .* is not one of this task's responses/);
    await expect(
      submitRanking(t.db, "a0", { taskId: randomUUID(), ranking: [[a!], [b!]], idempotencyKey: key() }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await t.db.select().from(rankings).where(eq(rankings.taskId, pairwise.taskId))).toEqual([]);
  });

  it("stores one ranking for a double click or a retry, and acknowledges both", async () => {
    const [a, b] = pairwise.completions.map((c) => c.id);
    const submission = {
      taskId: pairwise.taskId,
      ranking: [[b!], [a!]],
      strength: 2 as const,
      flags: { [a!]: ["harmful" as const] },
      note: "  B is kinder  ",
      timeMs: 4200,
      idempotencyKey: key(),
    };
    const results = await Promise.all([
      submitRanking(t.db, "a0", submission),
      submitRanking(t.db, "a0", submission),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(["duplicate", "recorded"]);
    expect(results[0]!.rankingId).toBe(results[1]!.rankingId);
    expect(results[0]!.sources.map((s) => s.source).sort()).toEqual(["m0", "m1"]);
    const retry = await submitRanking(t.db, "a0", submission);
    expect(retry.status).toBe("duplicate");
    const stored = await t.db.select().from(rankings).where(eq(rankings.taskId, pairwise.taskId));
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ ranking: [[b], [a]], strength: 2, note: "B is kinder", timeMs: 4200 });
    const [task] = await t.db.select().from(comparisonTasks).where(eq(comparisonTasks.id, pairwise.taskId));
    expect(task!.rankingCount).toBe(1);
  });

  it("refuses a ranking beyond the task's required count, and a key used for another answer", async () => {
    const [a, b] = pairwise.completions.map((c) => c.id);
    // a1 holds a lease that outlived the task's last free slot.
    await t.db
      .insert(taskLeases)
      .values({ taskId: pairwise.taskId, annotatorId: "a1", expiresAt: new Date(Date.now() + 60_000) });
    await expect(
      submitRanking(t.db, "a1", { taskId: pairwise.taskId, ranking: [[a!], [b!]], idempotencyKey: key() }),
    ).rejects.toThrow("this task already has the 1 ranking it needs; take the next one");
    const [stored] = await t.db.select().from(rankings).where(eq(rankings.taskId, pairwise.taskId));
    await expect(
      submitRanking(t.db, "a1", {
        taskId: pairwise.taskId,
        skipped: true,
        idempotencyKey: stored!.idempotencyKey!,
      }),
    ).rejects.toThrow("this submission key was already used for another answer");
  });

  it("takes an answer only from the task's lease holder (or an admin, openly), and tells others nothing of the task", async () => {
    const id = await makeDataset("lease-rules", 2, 3, 2);
    await t.db
      .insert(users)
      .values(
        ["holder", "intruder", "an-admin"].map((name) => ({ id: name, name, email: `${name}@example.com` })),
      );
    const held = (await nextTask(t.db, { annotatorId: "holder", datasetId: id }))!;
    const ids = held.completions.map((c) => c.id);
    const attempts = [
      { ranking: ids.map((c) => [c]) },
      { ranking: [] },
      { ranking: [[ids[0]!]] },
      { ranking: null },
      { skipped: true },
      { allBad: true },
      { ranking: ids.map((c) => [c]), flags: { [ids[0]!]: ["spam" as const] } },
    ];
    for (const attempt of attempts) {
      const error = await submitRanking(t.db, "intruder", {
        taskId: held.taskId,
        idempotencyKey: key(),
        ...attempt,
      }).catch((e: unknown) => e as LabelingError);
      expect(error, JSON.stringify(attempt)).toBeInstanceOf(LabelingError);
      expect((error as LabelingError).code).toBe("FORBIDDEN");
      for (const c of ids) expect((error as LabelingError).message).not.toContain(c);
      expect((error as LabelingError).message).not.toMatch(/responses|prompt/);
    }
    // Claiming to be an admin is not enough; being one, and saying so, is.
    await expect(
      submitRanking(t.db, "intruder", {
        taskId: held.taskId,
        skipped: true,
        asAdmin: true,
        idempotencyKey: key(),
      }),
    ).rejects.toMatchObject({ code: "FORBIDDEN", message: expect.stringMatching(/^asAdmin: only an admin/) });
    expect(await t.db.select().from(rankings).where(eq(rankings.taskId, held.taskId))).toEqual([]);
    // The holder is not pushed out by any of it.
    const own = await submitRanking(t.db, "holder", {
      taskId: held.taskId,
      ranking: ids.map((c) => [c]),
      idempotencyKey: key(),
    });
    expect(own.status).toBe("recorded");
    const byAdmin = await submitRanking(
      t.db,
      "an-admin",
      {
        taskId: held.taskId,
        ranking: [...ids].reverse().map((c) => [c]),
        asAdmin: true,
        idempotencyKey: key(),
      },
      { isAdmin: true },
    );
    expect(byAdmin.status).toBe("recorded");
    const stored = await t.db.select().from(rankings).where(eq(rankings.taskId, held.taskId));
    expect(stored.map((r) => r.annotatorId).sort()).toEqual(["an-admin", "holder"]);
  });

  it("lets an annotator change their own answer; a skip is stored but not counted", async () => {
    const [a, b] = pairwise.completions.map((c) => c.id);
    const changed = await submitRanking(t.db, "a0", {
      taskId: pairwise.taskId,
      ranking: [[a!, b!]],
      idempotencyKey: key(),
    });
    expect(changed.status).toBe("updated");
    expect((await ownRanking(t.db, "a0", pairwise.taskId)).answer).toMatchObject({
      ranking: [[a, b]],
      strength: null,
    });
    await expect(ownRanking(t.db, "a1", pairwise.taskId)).rejects.toMatchObject({ code: "NOT_FOUND" });

    const next = (await nextTask(t.db, { annotatorId: "a0", datasetId }))!;
    await submitRanking(t.db, "a0", { taskId: next.taskId, skipped: true, idempotencyKey: key() });
    const [task] = await t.db.select().from(comparisonTasks).where(eq(comparisonTasks.id, next.taskId));
    expect(task!.rankingCount).toBe(0);
    expect((await nextTask(t.db, { annotatorId: "a0", datasetId }))!.taskId).not.toBe(next.taskId);
    // Someone else can still rank the skipped task.
    await t.db.delete(taskLeases);
    const forOther = await nextTask(t.db, { annotatorId: "a1", datasetId });
    expect(forOther).not.toBeNull();
  });

  it("undoes the latest fresh answer within the window and hands the task back", async () => {
    await t.db.delete(taskLeases);
    const task = (await nextTask(t.db, { annotatorId: "a2", datasetId }))!;
    await submitRanking(t.db, "a2", { taskId: task.taskId, allBad: true, idempotencyKey: key() });
    const undone = await undoLastRanking(t.db, "a2");
    expect(undone).toEqual({ taskId: task.taskId, datasetId });
    const [row] = await t.db.select().from(comparisonTasks).where(eq(comparisonTasks.id, task.taskId));
    expect(row!.rankingCount).toBe(0);
    expect((await nextTask(t.db, { annotatorId: "a2", datasetId }))!.taskId).toBe(task.taskId);
    // Too old to undo.
    await submitRanking(t.db, "a2", { taskId: task.taskId, ranking: strict(task), idempotencyKey: key() });
    await t.pool.query(
      "update rankings set created_at = now() - interval '1 hour', updated_at = now() - interval '1 hour' where annotator_id = 'a2'",
    );
    expect(await undoLastRanking(t.db, "a2")).toBeNull();
  });

  it("reports the annotator's progress: done today, total and what is left", async () => {
    await t.pool.query("update rankings set created_at = now() where annotator_id = 'a2'");
    expect(await annotatorProgress(t.db, "a2", datasetId)).toMatchObject({ doneToday: 1, total: 1 });
    await t.pool.query(
      "update rankings set created_at = now() - interval '2 days' where annotator_id = 'a2'",
    );
    const progress = await annotatorProgress(t.db, "a2", datasetId);
    expect(progress).toMatchObject({ doneToday: 0, total: 1 });
    const { rows } = await t.pool.query(
      "select count(*)::int as n from comparison_tasks where dataset_id = $1 and ranking_count < required_rankings",
      [datasetId],
    );
    expect(progress.queueLeft).toBe(rows[0].n);
  });
});

describe("admin views", () => {
  it("per-dataset progress, per-annotator counts, agreement and the model leaderboard", async () => {
    const datasetId = await makeDataset("admin-views", 6, 3, 2);
    // a3 and a4 rank every task; a3 always prefers m0 > m1 > m2, a4 agrees except on one task.
    let n = 0;
    for (const annotatorId of ["a3", "a4"]) {
      for (;;) {
        const task = await nextTask(t.db, { annotatorId, datasetId });
        if (!task) break;
        const bySource = async () => {
          const { rows } = await t.pool.query(
            "select c.id, c.source from task_completions tc join completions c on c.id = tc.completion_id where tc.task_id = $1 order by c.source",
            [task.taskId],
          );
          return rows.map((r: { id: string }) => [r.id]);
        };
        const ranking = await bySource();
        if (annotatorId === "a4" && n++ === 0) ranking.reverse();
        await submitRanking(t.db, annotatorId, {
          taskId: task.taskId,
          ranking,
          flags: annotatorId === "a4" && n === 1 ? { [ranking[0]![0]!]: ["spam"] } : {},
          timeMs: 1000 * (ranking.length + 1),
          idempotencyKey: key(),
        });
      }
    }
    const progress = (await datasetsProgress(t.db)).find((d) => d.id === datasetId)!;
    expect(progress).toMatchObject({
      tasks: 6,
      pending: 0,
      completed: 6,
      skipped: 0,
      flagged: 1,
      rankings: 12,
      annotators: 2,
    });

    const stats = await annotatorStats(t.db, datasetId);
    expect(stats.map((s) => [s.email, s.rankings, s.flagsGiven, s.medianSeconds])).toEqual([
      ["a3@example.com", 6, 0, 4],
      ["a4@example.com", 6, 1, 4],
    ]);

    const agreement = await datasetAgreement(t.db, datasetId);
    expect(agreement.overlappingTasks).toBe(6);
    expect(agreement.pairwiseAgreement).toBeCloseTo(15 / 18, 10);
    expect(agreement.alpha!).toBeGreaterThan(0.5);

    const board = await datasetLeaderboard(t.db, datasetId, { rounds: 20 });
    expect(board.map((r) => r.model)).toEqual(["m0", "m1", "m2"]);
    expect(board[0]!.battles).toBe(24);
  });
});

describe("import and export", () => {
  it("imports nothing from a file with a bad line and says which line, field and why", async () => {
    const text = [
      JSON.stringify({ prompt: "ok", responses: ["a", "b"] }),
      JSON.stringify({ prompt: "ok too", responses: [{ text: "a", source: "m" }, "b", "c"] }),
      JSON.stringify({ prompt: "one response", responses: ["only"] }),
      "{not json",
      JSON.stringify({ prompt: "", responses: ["a", 7] }),
    ].join("\n");
    const error = await importJsonl(t.db, { dataset: "import-bad", text }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImportError);
    const message = (error as Error).message;
    expect(message).toContain("nothing was imported");
    expect(message).toContain("line 3: responses: needs at least 2 responses to compare");
    expect(message).toMatch(/line 4: \(line\): not valid JSON/);
    expect(message).toContain("line 5: prompt: must not be empty");
    expect(message).toContain('line 5: responses.1: must be a string or {"text", "source"}');
    expect(await t.db.select().from(datasets).where(eq(datasets.name, "import-bad"))).toEqual([]);
  });

  it("imports prompts into a prompts dataset and TRL pairs as pairwise tasks", async () => {
    const prompts = await importJsonl(t.db, {
      dataset: "import-prompts",
      text: '{"prompt":"p1"}\n\n{"prompt":"p2"}\n',
    });
    expect(prompts).toMatchObject({ kind: "prompts", imported: 2, created: true });
    const trl = await importJsonl(t.db, {
      dataset: "import-trl",
      text: [
        JSON.stringify({ prompt: "q", chosen: "good", rejected: "bad" }),
        JSON.stringify({
          prompt: [{ role: "user", content: "q2" }],
          chosen: [{ role: "assistant", content: "good2" }],
          rejected: [{ role: "assistant", content: "bad2" }],
        }),
      ].join("\n"),
    });
    expect(trl).toMatchObject({ kind: "trl", imported: 2 });
    await expect(
      importJsonl(t.db, {
        dataset: "import-prompts",
        text: JSON.stringify({ prompt: "p", responses: ["a", "b"] }),
      }),
    ).rejects.toThrow('dataset: "import-prompts" holds prompts; this file holds comparison tasks');
  });

  it("exports TRL pairs (plain and conversational) and full rankings, which import back as the same tasks", async () => {
    const text = [
      JSON.stringify({
        prompt: "Say hi",
        responses: [
          { text: "Hi!", source: "m-a" },
          { text: "Go away.", source: "m-b" },
          { text: "Hello.", source: "m-c" },
        ],
        gold: [[0, 2], [1]],
      }),
      JSON.stringify({
        prompt: "Count",
        responses: [
          { text: "1 2 3", source: "m-a" },
          { text: "3 2 1", source: "m-b" },
        ],
      }),
    ].join("\n");
    const { datasetId } = await importJsonl(t.db, { dataset: "export-src", text, seed: 5 });
    for (;;) {
      const task = await nextTask(t.db, { annotatorId: "a5", datasetId, random: () => 0 });
      if (!task) break;
      await submitRanking(t.db, "a5", {
        taskId: task.taskId,
        ranking: strict(task),
        timeMs: 1500,
        idempotencyKey: key(),
      });
    }
    const plain = (await exportPreferences(t.db, "export-src", "trl"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(plain).toHaveLength(3 + 1); // C(3,2) + C(2,2)
    for (const row of plain) trlPreferenceSchema.parse(row);
    const conversational = (await exportPreferences(t.db, "export-src", "trl-conversational"))
      .trim()
      .split("\n");
    expect(conversational).toHaveLength(4);
    const first = trlConversationalPreferenceSchema.parse(JSON.parse(conversational[0]!));
    expect(first.prompt).toEqual([{ role: "user", content: plain[0].prompt }]);
    expect(first.chosen).toEqual([{ role: "assistant", content: plain[0].chosen }]);

    const full = await exportPreferences(t.db, "export-src", "rankings");
    const rows = full
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rows[0].rankings[0]).toMatchObject({
      annotator_id: "a5",
      annotator_email: "a5@example.com",
      time_ms: 1500,
    });

    const back = await importJsonl(t.db, { dataset: "export-back", text: full, seed: 9 });
    expect(back).toMatchObject({ kind: "tasks", imported: 2, gold: 1 });
    const again = (await exportPreferences(t.db, "export-back", "rankings"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const shape = (r: {
      prompt: string;
      responses: { text: string; source: string }[];
      gold?: number[][];
    }) => ({
      prompt: r.prompt,
      responses: [...r.responses].map((x) => `${x.source}:${x.text}`).sort(),
      gold: r.gold?.map((g) => g.map((i) => r.responses[i]!.text).sort()),
    });
    const byPrompt = (a: { prompt: string }, b: { prompt: string }) => a.prompt.localeCompare(b.prompt);
    expect(again.map(shape).sort(byPrompt)).toEqual(rows.map(shape).sort(byPrompt));
  });
});

describe("progress counters are what the rankings say", () => {
  it("keeps ranking_count equal to the stored non-skipped rankings everywhere", async () => {
    const { rows } = await t.db.execute<{ bad: number }>(sql`
      select count(*)::int as bad from comparison_tasks t
      where t.ranking_count <> (select count(*) from rankings r where r.task_id = t.id and not r.skipped)`);
    expect(rows[0]!.bad).toBe(0);
  });
});
