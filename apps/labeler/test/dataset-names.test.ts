/**
 * A dataset named in Chinese through the labeler: the admin import takes 电影评论-2026, the overview lists
 * it as written, its export link carries it URL-encoded, and the export route answers that link with the
 * file named after the dataset as written (RFC 6266's filename*, an ASCII stand-in beside it). An unsafe
 * name is refused naming the field and the value.
 */
import { authSecret, createUser, issueSessionCookie } from "@rlhf/core/auth";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { createCallerFactory, createInnerContext, type Session } from "@rlhf/core/trpc";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRouter } from "~/server/api/root";

const NAME = "电影评论-2026";
let t: TestDatabase;
let admin: Session;
let cookie: string;
const as = (session: Session) => createCallerFactory(appRouter)(createInnerContext({ database: t, session }));

beforeAll(async () => {
  t = await createTestDatabase("rlhf_labeler_names");
  const user = await createUser(t.db, {
    email: "root@example.com",
    name: "Root",
    password: "root-password",
    role: "admin",
  });
  admin = { user: { id: user.id, name: user.name, email: user.email, role: "admin" } };
  cookie = await issueSessionCookie(t.db, user.id, { secret: authSecret() });
});
afterAll(async () => {
  await t?.drop();
});

describe("a Chinese dataset name in the labeler", () => {
  it("imports, is listed as written, and exports under its own name", async () => {
    const text = JSON.stringify({ prompt: "这部电影怎么样？", responses: ["很好看。", "不知道。"] });
    expect(await as(admin).admin.import({ dataset: NAME, text })).toMatchObject({
      created: true,
      imported: 1,
    });
    const overview = await as(admin).admin.overview();
    expect(JSON.stringify(overview)).toContain(`"${NAME}"`);
    // The overview's export link (admin/overview.tsx) and the route behind it, in this process.
    const link = `/api/export?dataset=${encodeURIComponent(NAME)}&format=rankings`;
    const before = process.env.DATABASE_URL;
    process.env.DATABASE_URL = t.url; // read when the route first opens its database
    const { GET } = await import("~/app/api/export/route");
    const response = await GET(new Request(`http://labeler.test${link}`, { headers: { cookie } })).finally(
      () => {
        process.env.DATABASE_URL = before;
      },
    );
    expect(response.status, await response.clone().text()).toBe(200);
    const disposition = response.headers.get("content-disposition") ?? "";
    expect(disposition).toContain(`filename*=UTF-8''${encodeURIComponent(`${NAME}.rankings.jsonl`)}`);
    expect(disposition).toMatch(/filename="[\x20-\x7e]+\.rankings\.jsonl"/);
    const rows = (await response.text())
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ dataset: NAME, prompt: "这部电影怎么样？" });
  });

  it("refuses a name with a slash, naming the field and the value", async () => {
    const text = JSON.stringify({ prompt: "p", responses: ["a", "b"] });
    await expect(as(admin).admin.import({ dataset: "电影/评论", text })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringMatching(/^dataset: use 1 to 100 letters.*; "电影\/评论" has "\/"$/),
    });
  });
});
