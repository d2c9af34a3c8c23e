import { readFileSync } from "node:fs";
import path from "node:path";
import { MIGRATIONS_DIR, openDatabase } from "@rlhf/core/db";
import { comparisonTasks, datasets, rankings, runs, users } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import {
  adminProcedure,
  createCallerFactory,
  createContext,
  createInnerContext,
  createTRPCRouter,
  getDatabase,
  getSession,
  protectedProcedure,
  type Session,
} from "@rlhf/core/trpc";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { appRouter } from "~/server/api/root";

let t: TestDatabase;
const createCaller = createCallerFactory(appRouter);
const caller = () => createCaller(createInnerContext({ database: t }));

beforeAll(async () => {
  t = await createTestDatabase("rlhf_dashboard");
});
afterAll(async () => {
  await t?.drop();
});

describe("runs.list", () => {
  beforeEach(async () => {
    await t.db.delete(runs);
  });

  it("is empty on an empty database", async () => {
    expect(await caller().runs.list()).toEqual([]);
  });

  it("lists runs newest first with the table's columns only", async () => {
    const base = Date.parse("2026-01-01T00:00:00Z");
    await t.db.insert(runs).values([
      { name: "pretrain-old", kind: "pretrain", config: { secret: 1 }, createdAt: new Date(base) },
      {
        name: "ppo-new",
        kind: "ppo",
        status: "running",
        config: {},
        backend: "wasm",
        step: 120,
        totalSteps: 500,
        createdAt: new Date(base + 2000),
        startedAt: new Date(base + 3000),
      },
      {
        name: "sft-mid",
        kind: "sft",
        status: "succeeded",
        config: {},
        createdAt: new Date(base + 1000),
        finishedAt: new Date(base + 5000),
      },
    ]);

    const listed = await caller().runs.list();

    expect(listed.map((r) => r.name)).toEqual(["ppo-new", "sft-mid", "pretrain-old"]);
    expect(Object.keys(listed[0]!).sort()).toEqual(
      [
        "backend",
        "createdAt",
        "finishedAt",
        "id",
        "kind",
        "name",
        "startedAt",
        "status",
        "step",
        "totalSteps",
      ].sort(),
    );
    expect(listed[0]).toMatchObject({
      kind: "ppo",
      status: "running",
      backend: "wasm",
      step: 120,
      totalSteps: 500,
      startedAt: new Date(base + 3000),
      finishedAt: null,
    });
    expect(listed[2]).toMatchObject({ status: "queued", backend: null, step: 0, totalSteps: null });
  });

  it("returns the latest 50", async () => {
    const base = Date.parse("2026-01-01T00:00:00Z");
    await t.db.insert(runs).values(
      Array.from({ length: 55 }, (_, i) => ({
        name: `run-${i}`,
        kind: "sft" as const,
        config: {},
        createdAt: new Date(base + i * 1000),
      })),
    );
    const listed = await caller().runs.list();
    expect(listed).toHaveLength(50);
    expect(listed[0]!.name).toBe("run-54");
    expect(listed[49]!.name).toBe("run-5");
  });
});

describe("health.status", () => {
  it("reports the server, the applied migrations and what the database holds", async () => {
    await t.db.delete(runs);
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

  it("createContext opens one database per process and has no session until auth arrives", async () => {
    // A cookie that names no session is no session (checked on the test database, so the process-wide
    // database below is the first one createContext opens).
    expect(await getSession(new Headers({ cookie: "session=abc" }), t.db)).toBeNull();
    const headers = new Headers({ "x-test": "1" });
    const first = await createContext({ headers, database: { url: t.url } });
    const second = await createContext({ headers, database: { url: t.url } });
    expect(first.session).toBeNull();
    expect(first.headers.get("x-test")).toBe("1");
    expect(first.dbMode).toBe("external");
    expect(second.db).toBe(first.db);
    await (await getDatabase()).close();
  });
});
