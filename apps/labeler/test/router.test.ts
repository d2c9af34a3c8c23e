import { randomUUID } from "node:crypto";
import { createUser } from "@rlhf/core/auth";
import { comparisonTasks, datasets, rankings, users } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import {
  adminProcedure,
  createCallerFactory,
  createInnerContext,
  createTRPCRouter,
  eq,
  protectedProcedure,
  type Session,
} from "@rlhf/core/trpc";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { appRouter } from "~/server/api/root";

let t: TestDatabase;
let admin: Session;
let ann: Session;
let bo: Session;
const as = (session: Session | null, headers?: Headers) =>
  createCallerFactory(appRouter)(createInnerContext({ database: t, session, headers }));

beforeAll(async () => {
  t = await createTestDatabase("rlhf_labeler");
  const toSession = (u: {
    id: string;
    name: string;
    email: string;
    role: "admin" | "annotator";
  }): Session => ({
    user: { id: u.id, name: u.name, email: u.email, role: u.role },
  });
  admin = toSession(
    await createUser(t.db, {
      email: "root@example.com",
      name: "Root",
      password: "root-password",
      role: "admin",
    }),
  );
  ann = toSession(
    await createUser(t.db, { email: "ann@example.com", name: "Ann", password: "ann-password" }),
  );
  bo = toSession(await createUser(t.db, { email: "bo@example.com", name: "Bo", password: "bo-password" }));
});
afterAll(async () => {
  await t?.drop();
});

describe("access", () => {
  // One plausible input per admin procedure, so that what refuses is the role check, not validation.
  const adminCalls: Record<string, (c: ReturnType<typeof as>) => Promise<unknown>> = {
    "admin.overview": (c) => c.admin.overview(),
    "admin.dataset": (c) => c.admin.dataset({ datasetId: randomUUID() }),
    "admin.updateDataset": (c) => c.admin.updateDataset({ datasetId: randomUUID(), requiredRankings: 2 }),
    "admin.import": (c) => c.admin.import({ dataset: "x", text: '{"prompt":"p"}' }),
    "admin.generationSources": (c) => c.admin.generationSources(),
    "admin.generate": (c) => c.admin.generate({ runId: randomUUID(), prompts: "p", dataset: "d" }),
    "admin.users": (c) => c.admin.users(),
    "admin.invite": (c) => c.admin.invite({ email: "new@example.com" }),
    "admin.revokeInvite": (c) => c.admin.revokeInvite({ id: "x" }),
    "admin.updateUser": (c) => c.admin.updateUser({ id: admin.user.id, role: "annotator" }),
  };

  it("covers every admin procedure", () => {
    const procedures = Object.keys(appRouter._def.procedures).filter((p) => p.startsWith("admin."));
    expect(procedures.sort()).toEqual(Object.keys(adminCalls).sort());
  });

  it("every admin procedure refuses an annotator (FORBIDDEN) and an anonymous caller (UNAUTHORIZED)", async () => {
    for (const [name, call] of Object.entries(adminCalls)) {
      await expect(call(as(ann)), name).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(call(as(null)), name).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    }
    expect(await t.db.select().from(datasets)).toEqual([]);
    const [root] = await t.db.select().from(users).where(eq(users.id, admin.user.id));
    expect(root!.role).toBe("admin");
  });

  it("every labeling procedure and the dataset list refuse an anonymous caller", async () => {
    const anonymous = as(null);
    const id = randomUUID();
    for (const call of [
      () => anonymous.labeling.datasets(),
      () => anonymous.labeling.next({ datasetId: id }),
      () => anonymous.labeling.progress({ datasetId: id }),
      () => anonymous.labeling.submit({ taskId: id, skipped: true, idempotencyKey: randomUUID() }),
      () => anonymous.labeling.undo(),
      () => anonymous.labeling.release({ taskId: id }),
      () => anonymous.labeling.mine(),
      () => anonymous.labeling.own({ taskId: id }),
      () => anonymous.datasets.list(),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    }
  });

  it("refuses a mutation sent from another site's page", async () => {
    const crossSite = new Headers({ "sec-fetch-site": "cross-site", origin: "https://evil.example" });
    await expect(
      as(ann, crossSite).labeling.submit({
        taskId: randomUUID(),
        skipped: true,
        idempotencyKey: randomUUID(),
      }),
    ).rejects.toMatchObject({ code: "FORBIDDEN", message: "Cross-site request refused." });
    await expect(
      as(null, crossSite).account.setup({ email: "x@example.com", name: "X", password: "long-password" }),
    ).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  it("the first-start page cannot create an admin once one exists", async () => {
    expect(await as(null).account.me()).toEqual({ user: null, needsSetup: false });
    await expect(
      as(null).account.setup({ email: "eve@example.com", name: "Eve", password: "eve-password" }),
    ).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: "the workbench already has an admin; sign in instead",
    });
  });

  it("an admin invites an annotator, who sets a password through the link", async () => {
    const { token } = await as(admin).admin.invite({ email: "cy@example.com" });
    expect(await as(null).account.invitation({ token })).toMatchObject({
      email: "cy@example.com",
      role: "annotator",
    });
    expect((await as(admin).admin.users()).invites.map((i) => i.email)).toEqual(["cy@example.com"]);
    await as(null).account.acceptInvite({ token, name: "Cy", password: "cy-password" });
    expect(await as(null).account.invitation({ token })).toBeNull();
    expect((await as(admin).admin.users()).users.map((u) => u.email)).toContain("cy@example.com");
  });
});

describe("annotating through the routers", () => {
  let datasetId: string;
  beforeAll(async () => {
    const text = [
      JSON.stringify({
        prompt: "Which is kinder?",
        responses: [
          { text: "Thanks!", source: "nice-model" },
          { text: "Whatever.", source: "rude-model" },
        ],
      }),
      JSON.stringify({
        prompt: "Rank these",
        responses: ["one", "two", "three"].map((text, i) => ({ text, source: `model-${i}` })),
      }),
    ].join("\n");
    const result = await as(admin).admin.import({ dataset: "router-prefs", text, requiredRankings: 2 });
    datasetId = result.datasetId;
  });

  it("reports a bad line of an import as line, field and reason, and imports nothing", async () => {
    const text = `${JSON.stringify({ prompt: "ok", responses: ["a", "b"] })}\n${JSON.stringify({ prompt: "bad", responses: ["a"] })}`;
    await expect(as(admin).admin.import({ dataset: "router-bad", text })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("line 2: responses: needs at least 2 responses to compare"),
    });
    expect(await t.db.select().from(datasets).where(eq(datasets.name, "router-bad"))).toEqual([]);
  });

  it("an annotator ranks as themself, sees no model names or others' answers before submitting, then sees the sources", async () => {
    const task = await as(ann).labeling.next({ datasetId });
    expect(task).not.toBeNull();
    expect(JSON.stringify(task)).not.toMatch(/model|rankings|annotator/);
    const result = await as(ann).labeling.submit({
      taskId: task!.taskId,
      ranking: task!.completions.map((c) => [c.id]),
      idempotencyKey: randomUUID(),
    });
    expect(result.status).toBe("recorded");
    expect(result.sources.every((s) => /model/.test(s.source))).toBe(true);
    const [stored] = await t.db.select().from(rankings).where(eq(rankings.taskId, task!.taskId));
    expect(stored!.annotatorId).toBe(ann.user.id);

    // Bo may rank the same task, but cannot read Ann's answer, and sees only his own history.
    await expect(as(bo).labeling.own({ taskId: task!.taskId })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await as(bo).labeling.mine()).toEqual([]);
    expect((await as(ann).labeling.mine()).map((r) => r.taskId)).toEqual([task!.taskId]);
    expect((await as(ann).labeling.own({ taskId: task!.taskId })).answer.ranking).toEqual(
      task!.completions.map((c) => [c.id]),
    );
  });

  it("the progress moves, undo takes an answer back, and the admin views count it", async () => {
    const before = await as(ann).labeling.progress({ datasetId });
    const task = await as(ann).labeling.next({ datasetId });
    await as(ann).labeling.submit({ taskId: task!.taskId, allBad: true, idempotencyKey: randomUUID() });
    const after = await as(ann).labeling.progress({ datasetId });
    expect([
      after.doneToday - before.doneToday,
      after.total - before.total,
      before.queueLeft - after.queueLeft,
    ]).toEqual([1, 1, 1]);
    expect(await as(ann).labeling.undo()).toEqual({ taskId: task!.taskId, datasetId });
    expect((await as(ann).labeling.progress({ datasetId })).total).toBe(before.total);
    expect((await as(ann).labeling.next({ datasetId }))!.taskId).toBe(task!.taskId);

    const overview = await as(admin).admin.overview();
    expect(overview.find((d) => d.id === datasetId)).toMatchObject({ tasks: 2, pending: 2, rankings: 1 });
    const detail = await as(admin).admin.dataset({ datasetId });
    expect(detail.annotators.map((a) => [a.email, a.rankings])).toEqual([["ann@example.com", 1]]);
    expect(detail.leaderboard.length).toBeGreaterThanOrEqual(2);
  });

  it("lists preference datasets with what is left for the caller", async () => {
    const list = await as(bo).labeling.datasets();
    expect(list).toEqual([
      expect.objectContaining({ id: datasetId, name: "router-prefs", tasks: 2, open: 2, mine: 0 }),
    ]);
  });
});

describe("datasets.list", () => {
  beforeEach(async () => {
    await t.db.delete(datasets);
  });

  it("counts each dataset's comparison tasks and the ones with all their rankings", async () => {
    const base = Date.parse("2026-01-01T00:00:00Z");
    const [prefs] = await t.db
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
    await t.db.insert(comparisonTasks).values([
      { datasetId: prefs!.id, prompt: "a", requiredRankings: 2, rankingCount: 2 },
      { datasetId: prefs!.id, prompt: "b", requiredRankings: 2, rankingCount: 1 },
      { datasetId: prefs!.id, prompt: "d", requiredRankings: 1, rankingCount: 1 },
    ]);
    const listed = await as(ann).datasets.list();
    expect(listed.map((d) => [d.name, d.taskCount, d.completedCount])).toEqual([
      ["demo-prefs", 3, 2],
      ["demo-corpus", 0, 0],
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
    await t.db.insert(rankings).values({ taskId: task!.id, annotatorId: ann.user.id, allBad: true });
    const status = await as(null).health.status();
    expect(status.database).toMatchObject({ mode: t.mode, ok: true });
    expect(status.counts).toEqual({ runs: 0, datasets: 1, comparisonTasks: 1, rankings: 1 });
  });
});

describe("shared procedures", () => {
  const router = createTRPCRouter({
    rank: protectedProcedure.mutation(({ ctx }) => ctx.session.user.id),
    importData: adminProcedure.mutation(() => "imported"),
  });
  const call = (session: Session | null) =>
    createCallerFactory(router)(createInnerContext({ database: t, session }));

  it("protectedProcedure refuses a caller without a session; adminProcedure refuses an annotator", async () => {
    await expect(call(null).rank()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    expect(await call(ann).rank()).toBe(ann.user.id);
    await expect(call(ann).importData()).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(await call(admin).importData()).toBe("imported");
  });
});

describe("refusals name what is wrong, with a 4xx, and leave nothing behind", () => {
  it("admin.generate from an unknown run is a 400 naming the run; updateDataset of an unknown dataset a 404", async () => {
    const missing = randomUUID();
    await expect(
      as(admin).admin.generate({ runId: missing, prompts: "demo-prompts", dataset: "gen-x" }),
    ).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining(`run:${missing} matches no run`),
    });
    await expect(
      as(admin).admin.updateDataset({ datasetId: missing, requiredRankings: 2 }),
    ).rejects.toMatchObject({ code: "NOT_FOUND", message: `datasetId: no dataset ${missing}` });
  });

  it("an import with a NUL character anywhere is a 400 naming line and field, and creates no dataset", async () => {
    const good = JSON.stringify({ prompt: "fine", responses: ["a", "b"] });
    const cases: [string, string][] = [
      [JSON.stringify({ prompt: "p\u0000", responses: ["a", "b"] }), "line 2: prompt: contains a NUL"],
      [JSON.stringify({ prompt: "p", responses: ["a", "b\u0000"] }), "line 2: responses.1: contains a NUL"],
      [
        JSON.stringify({ prompt: "p", responses: ["a", "b"], metadata: { note: "\u0000" } }),
        "line 2: metadata.note: contains a NUL",
      ],
      [JSON.stringify({ prompt: "p\u0000" }), "line 2: prompt: contains a NUL"],
      [JSON.stringify({ prompt: "p", chosen: "c\u0000", rejected: "r" }), "line 2: chosen: contains a NUL"],
    ];
    for (const [i, [line, message]] of cases.entries()) {
      const dataset = `nul-import-${i}`;
      await expect(as(admin).admin.import({ dataset, text: `${good}\n${line}` })).rejects.toMatchObject({
        code: "BAD_REQUEST",
        message: expect.stringContaining(message),
      });
      expect(await t.db.select().from(datasets).where(eq(datasets.name, dataset))).toEqual([]);
    }
    // A NUL in a procedure's own input (a name, a note) is refused before anything runs, naming the field.
    await expect(as(admin).admin.import({ dataset: "nul\u0000name", text: good })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: "dataset: contains a NUL character (\\u0000), which cannot be stored",
    });
    await expect(
      as(ann).labeling.submit({
        taskId: randomUUID(),
        skipped: true,
        note: "x\u0000",
        idempotencyKey: randomUUID(),
      }),
    ).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: "note: contains a NUL character (\\u0000), which cannot be stored",
    });
  });
});
