/**
 * A dataset named in Chinese through the dashboard: the Data page's import takes 电影评论-2026, the Data
 * page's overview lists it as written, and a launch of SFT names it as its dataset. An unsafe name is
 * refused naming the field and the value, with the code the Chinese page says it in.
 */

import { runs } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { createCallerFactory, createInnerContext, eq, type Session } from "@rlhf/core/trpc";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRouter } from "~/server/api/root";

const NAME = "电影评论-2026";
let t: TestDatabase;
const admin: Session = { user: { id: "root", name: "Root", email: "root@example.com", role: "admin" } };
// A same-origin browser request, as the dashboard's own pages send.
const headers = new Headers({ origin: "http://localhost:3000", host: "localhost:3000" });
const as = (session: Session) =>
  createCallerFactory(appRouter)(createInnerContext({ database: t, session, headers }));

beforeAll(async () => {
  t = await createTestDatabase("rlhf_dashboard_names");
});
afterAll(async () => {
  await t?.drop();
});

describe("a Chinese dataset name in the dashboard", () => {
  it("imports, is listed as written, and a launched SFT run names it", async () => {
    const content = [
      { prompt: "这部电影怎么样？", response: "很好看。" },
      { prompt: "推荐一部电影。", response: "《霸王别姬》。" },
    ]
      .map((r) => JSON.stringify(r))
      .join("\n");
    const imported = await as(admin).data.importDataset({ kind: "sft", name: NAME, content });
    expect(imported).toMatchObject({ ok: true, result: { created: true } });
    expect(JSON.stringify(await as(admin).data.overview())).toContain(`"${NAME}"`);
    const [base] = await t.db
      .insert(runs)
      .values({ name: "names-base", kind: "pretrain", status: "succeeded", config: {} })
      .returning();
    const launched = await as(admin).launch.run({
      kind: "sft",
      config: { init: `run:${base!.id}`, dataset: NAME, maxSteps: 5 },
    });
    if (!launched.ok) throw new Error(JSON.stringify(launched.issues));
    const [row] = await t.db.select().from(runs).where(eq(runs.id, launched.run.id));
    expect(row?.config).toMatchObject({ dataset: NAME });
  });

  it("refuses a name with a control character, naming the field and the value", async () => {
    const content = JSON.stringify({ prompt: "p", response: "r" });
    const refused = await as(admin)
      .data.importDataset({ kind: "sft", name: "电影\u0007评论", content })
      .catch((e: unknown) => e as { code?: string; message: string });
    expect(refused).toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringMatching(
        /^dataset: use 1 to 100 letters.*; "电影\\u0007评论" has a control character \(U\+0007\)$/,
      ),
    });
  });
});
