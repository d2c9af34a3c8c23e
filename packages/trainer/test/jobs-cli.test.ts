/** `rlhf launch` and `rlhf runs list|show|logs|cancel` as a person or a script uses them. */
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runLogs, runs } from "@rlhf/core/schema";
import { createTestDatabase, type TestDatabase } from "@rlhf/core/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixture, runCli } from "./fixtures/processes";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => t?.drop());

describe("rlhf launch and rlhf runs", () => {
  it("launches, lists, shows, prints logs and cancels", async () => {
    const launched = await runCli(t.url, [
      "launch",
      "pretrain",
      "--config",
      fixture("pretrain-tiny.json"),
      "--name",
      "cli-a",
      "--json",
    ]);
    expect(launched.code).toBe(0);
    const run = JSON.parse(launched.stdout);
    expect(run).toMatchObject({ name: "cli-a", kind: "pretrain", inputs: [] });

    const human = await runCli(t.url, ["launch", "pretrain", "--config", fixture("pretrain-tiny.json")]);
    expect(human.stdout).toMatch(/^queued pretrain run pretrain-[0-9a-f]{6} \(/);

    const list = await runCli(t.url, ["runs", "list", "--json"]);
    expect(JSON.parse(list.stdout).map((r: { name: string }) => r.name)).toContain("cli-a");
    const table = await runCli(t.url, ["runs", "list", "--status", "queued"]);
    expect(table.stdout.split("\n")[0]).toMatch(
      /^ID\s+NAME\s+KIND\s+STATUS\s+STEP\s+CREATED\s+TIME\s+WORKER$/,
    );
    expect(table.stdout).toMatch(/cli-a\s+pretrain\s+queued/);

    await t.db.insert(runLogs).values([
      { runId: run.id, message: "first line" },
      { runId: run.id, message: "careful", level: "warn" },
    ]);
    const logs = await runCli(t.url, ["runs", "logs", "cli-a"]);
    expect(logs.stdout).toMatch(/\d\d:\d\d:\d\d first line\n\d\d:\d\d:\d\d WARN careful\n$/);

    const cancelled = await runCli(t.url, ["runs", "cancel", "cli-a"]);
    expect(cancelled.stdout).toMatch(/cancelled cli-a \(it had not started\)/);
    // --follow ends with the run's final state (and exit code 1: it did not succeed).
    const followed = await runCli(t.url, ["runs", "logs", run.id, "--follow"]);
    expect(followed.stdout).toMatch(/— cli-a cancelled\n$/);
    expect(followed.code).toBe(1);

    const show = await runCli(t.url, ["runs", "show", "cli-a"]);
    expect(show.stdout).toMatch(/^id:\s+[0-9a-f-]{36}$/m);
    expect(show.stdout).toMatch(/^status:\s+cancelled$/m);
    const shown = JSON.parse((await runCli(t.url, ["runs", "show", "cli-a", "--json"])).stdout);
    expect(shown.run).toMatchObject({ id: run.id, status: "cancelled" });

    const missing = await runCli(t.url, ["runs", "show", "no-such-run"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no run with id or name "no-such-run"/);
  });

  it("launches a pipeline; a config file with a JSON error is reported with its line", async () => {
    const file = path.join(os.tmpdir(), `rlhf-pipeline-${process.pid}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        steps: [
          { key: "base", kind: "pretrain", name: "p-base", config: { maxSteps: 5 } },
          { key: "chat", kind: "sft", name: "p-chat", config: { init: "run:base", maxSteps: 5 } },
        ],
      }),
    );
    const launched = await runCli(t.url, ["launch", "pipeline", "--config", file]);
    expect(launched.code).toBe(0);
    expect(launched.stdout).toMatch(/p-chat\s+sft\s+[0-9a-f-]{36}\s+\(after p-base\)/);
    const [chat] = await t.db.select().from(runs).where(eq(runs.name, "p-chat"));
    const [base] = await t.db.select().from(runs).where(eq(runs.name, "p-base"));
    expect(chat!.config.init).toBe(`run:${base!.id}`);
    expect(chat!.pipelineId).toBe(base!.pipelineId);

    const broken = path.join(os.tmpdir(), `rlhf-broken-${process.pid}.json`);
    writeFileSync(broken, '{\n  "maxSteps": 5,\n  "batchSize": ,\n}\n');
    const result = await runCli(t.url, ["launch", "pretrain", "--config", broken]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`${path.basename(broken)}:3:\\d+: invalid JSON`));
  });
});
