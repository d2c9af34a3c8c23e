import { comparisonTasks, datasets, rankings, users } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import {
  adminProcedure,
  createCallerFactory,
  createInnerContext,
  createTRPCRouter,
  protectedProcedure,
  type Session,
} from "@rlhf/core/trpc";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { appRouter } from "~/server/api/root";

let t: TestDatabase;
const caller = () => createCallerFactory(appRouter)(createInnerContext({ database: t }));

beforeAll(async () => {
  t = await createTestDatabase("rlhf_labeler");
});
afterAll(async () => {
  await t?.drop();
});

describe("datasets.list", () => {
  beforeEach(async () => {
    await t.db.delete(datasets);
  });

  it("is empty on an empty database", async () => {
    expect(await caller().datasets.list()).toEqual([]);
  });

  it("counts each dataset's comparison tasks and the ones with all their rankings", async () => {
    const base = Date.parse("2026-01-01T00:00:00Z");
    const [prefs, corpus] = await t.db
      .insert(datasets)
      .values([
        {
          name: "demo-prefs",
          kind: "preferences",
          description: "Demo comparisons",
          requiredRankings: 2,
          createdAt: new Date(base + 1000),
        },
        { name: "demo-corpus", kind: "text", createdAt: new Date(base) },
      ])
      .returning();
    // 4 tasks: ranked twice of 2 (complete), once of 2, none of 2, and once of 1 (complete).
    await t.db.insert(comparisonTasks).values([
      { datasetId: prefs!.id, prompt: "a", requiredRankings: 2, rankingCount: 2 },
      { datasetId: prefs!.id, prompt: "b", requiredRankings: 2, rankingCount: 1 },
      { datasetId: prefs!.id, prompt: "c", requiredRankings: 2, rankingCount: 0 },
      { datasetId: prefs!.id, prompt: "d", requiredRankings: 1, rankingCount: 1 },
    ]);

    const listed = await caller().datasets.list();

    expect(listed).toEqual([
      {
        id: prefs!.id,
        name: "demo-prefs",
        kind: "preferences",
        description: "Demo comparisons",
        source: "import",
        requiredRankings: 2,
        createdAt: new Date(base + 1000),
        taskCount: 4,
        completedCount: 2,
      },
      {
        id: corpus!.id,
        name: "demo-corpus",
        kind: "text",
        description: "",
        source: "import",
        requiredRankings: 1,
        createdAt: new Date(base),
        taskCount: 0,
        completedCount: 0,
      },
    ]);
  });
});

describe("health.status", () => {
  it("reports the server and counts what the labeler stores", async () => {
    await t.db.delete(datasets);
    const [dataset] = await t.db.insert(datasets).values({ name: "h", kind: "preferences" }).returning();
    const [task] = await t.db
      .insert(comparisonTasks)
      .values({ datasetId: dataset!.id, prompt: "p" })
      .returning();
    await t.db.insert(users).values({ id: "bo", name: "Bo", email: "bo@example.com" });
    await t.db.insert(rankings).values({ taskId: task!.id, annotatorId: "bo", allBad: true });

    const status = await caller().health.status();

    expect(status.database).toMatchObject({ mode: t.mode, ok: true });
    expect(status.counts).toEqual({ runs: 0, datasets: 1, comparisonTasks: 1, rankings: 1 });
  });
});

describe("shared procedures", () => {
  const router = createTRPCRouter({
    rank: protectedProcedure.mutation(({ ctx }) => ctx.session.user.id),
    importData: adminProcedure.mutation(() => "imported"),
  });
  const as = (session: Session | null) =>
    createCallerFactory(router)(createInnerContext({ database: t, session }));
  const annotator: Session = { user: { id: "bo", name: "Bo", email: "bo@example.com", role: "annotator" } };

  it("protectedProcedure refuses a caller without a session", async () => {
    await expect(as(null).rank()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    expect(await as(annotator).rank()).toBe("bo");
  });

  it("adminProcedure refuses an annotator", async () => {
    await expect(as(annotator).importData()).rejects.toMatchObject({ code: "FORBIDDEN" });
  });
});
