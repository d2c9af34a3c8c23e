/** `rlhf users` and `rlhf export preferences` as an admin uses them. */
import { randomUUID } from "node:crypto";
import { importJsonl, nextTask, submitRanking } from "@rlhf/core/labeling";
import { users } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./fixtures/processes";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  delete process.env.RLHF_ADMIN_PASSWORD;
  await t?.drop();
});

describe("rlhf users", () => {
  it("never creates an admin without a password, and creates one with a chosen password", async () => {
    delete process.env.RLHF_ADMIN_PASSWORD;
    const refused = await runCli(t.url, ["users", "create-admin", "--email", "root@example.com"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      "no password: pipe one in with --password-stdin, or set RLHF_ADMIN_PASSWORD",
    );
    expect(await t.db.select().from(users)).toEqual([]);

    process.env.RLHF_ADMIN_PASSWORD = "short";
    const weak = await runCli(t.url, ["users", "create-admin", "--email", "root@example.com"]);
    expect(weak.stderr).toContain("password: must be at least 8 characters");

    process.env.RLHF_ADMIN_PASSWORD = "a-long-enough-password";
    const created = await runCli(t.url, [
      "users",
      "create-admin",
      "--email",
      "root@example.com",
      "--name",
      "Root",
      "--json",
    ]);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({
      email: "root@example.com",
      name: "Root",
      role: "admin",
    });
    const listed = await runCli(t.url, ["users", "list"]);
    expect(listed.stdout).toMatch(/root@example\.com\s+Root\s+admin\s+0/);
    const invite = await runCli(t.url, [
      "users",
      "invite",
      "--email",
      "ann@example.com",
      "--url",
      "http://labeler.test:3001",
    ]);
    expect(invite.stdout).toMatch(/^http:\/\/labeler\.test:3001\/invite\/[\w-]{20,}\n/);
  });
});

describe("rlhf export preferences", () => {
  it("writes TRL pairs and refuses an unknown format", async () => {
    const text = [
      JSON.stringify({
        prompt: "p1",
        responses: [
          { text: "good", source: "a" },
          { text: "bad", source: "b" },
        ],
      }),
      JSON.stringify({ prompt: "p2", responses: ["x", "y", "z"] }),
    ].join("\n");
    const { datasetId } = await importJsonl(t.db, { dataset: "cli-prefs", text, seed: 1 });
    const [root] = await t.db.select().from(users);
    for (;;) {
      const task = await nextTask(t.db, { annotatorId: root!.id, datasetId });
      if (!task) break;
      await submitRanking(t.db, root!.id, {
        taskId: task.taskId,
        ranking: task.completions.map((c) => [c.id]),
        idempotencyKey: randomUUID(),
      });
    }
    const exported = await runCli(t.url, ["export", "preferences", "--dataset", "cli-prefs"]);
    expect(exported.code).toBe(0);
    const rows = exported.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(rows).toHaveLength(1 + 3);
    expect(Object.keys(rows[0]).sort()).toEqual(["chosen", "prompt", "rejected"]);
    const bogus = await runCli(t.url, ["export", "preferences", "--dataset", "cli-prefs", "--format", "csv"]);
    expect(bogus.code).toBe(1);
    expect(bogus.stderr).toContain("--format must be one of trl, trl-conversational, rankings");
  });
});
