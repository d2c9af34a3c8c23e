/**
 * Run references: a UUID means a run id and nothing else, so no run may be named like one (launch,
 * ingest); and ingest's refusals of impossible values come as 400s that name the field, writing nothing.
 */
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../src/configs";
import { runs } from "../src/db/schema";
import { createTestDatabase, type TestDatabase } from "../src/db/testing";
import { IngestError, ingest } from "../src/ingest";
import { cancelRun, findRun, launchRun, runNameProblem } from "../src/queue";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => t?.drop());

const tiny = { maxSteps: 5 };
const refused = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error("expected a refusal");
    },
    (error: unknown) => error,
  );

describe("run names and references", () => {
  it("refuses a name that parses as a UUID (or run:<UUID>) at launch and at ingest, naming the field", async () => {
    const real = await launchRun(t, { kind: "pretrain", config: tiny, name: "real" });
    for (const name of [real.id, real.id.toUpperCase(), ` ${real.id} `, `run:${real.id}`]) {
      const error = (await refused(launchRun(t, { kind: "pretrain", config: tiny, name }))) as ConfigError;
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.issues[0]).toMatchObject({ path: "name", message: expect.stringMatching(/is a UUID/) });
      const ingestError = (await refused(ingest(t, { run: { name } }, { trusted: true }))) as IngestError;
      expect(ingestError).toBeInstanceOf(IngestError);
      expect(ingestError.status).toBe(400);
      expect(ingestError.issues[0]).toMatchObject({
        path: "run.name",
        message: expect.stringMatching(/UUID/),
      });
    }
    // A typo in a launched config is refused, not launched with the default.
    const typo = (await refused(launchRun(t, { kind: "pretrain", config: { maxStep: 5 } }))) as ConfigError;
    expect(typo.issues).toEqual([
      { path: "maxStep", message: 'unknown key "maxStep"; did you mean "maxSteps"?' },
    ]);
    expect(runNameProblem("ppo-3e5f")).toBeUndefined();
    expect(runNameProblem("a\u0000b")).toMatch(/NUL/);
    expect((await t.db.select().from(runs)).map((r) => r.name)).toEqual(["real"]);
  });

  it("resolves a UUID reference to the run with that id only, even beside an older impostor named after it", async () => {
    const real = await launchRun(t, { kind: "pretrain", config: tiny, name: "target" });
    // A row written before names were checked, newer than the real run.
    const [impostor] = await t.db
      .insert(runs)
      .values({ name: real.id, kind: "pretrain", status: "queued", config: {} })
      .returning();
    expect((await findRun(t.db, real.id))!.id).toBe(real.id);
    expect((await findRun(t.db, `run:${real.id}`))!.id).toBe(real.id);
    const cancelled = await cancelRun(t, real.id);
    expect(cancelled.id).toBe(real.id);
    const [after] = await t.db.select().from(runs).where(eq(runs.id, impostor!.id));
    expect(after!.status).toBe("queued");
    // A config's run:<uuid> input means that run, too.
    const sft = launchRun(t, { kind: "sft", config: { init: `run:${impostor!.id}` } });
    await expect(sft).resolves.toMatchObject({ inputs: [{ parentRunId: impostor!.id }] });
  });

  it("ingest: a time past the year 9999, or a NUL anywhere, is a 400 naming the field; nothing is written", async () => {
    const before = (await t.db.select().from(runs)).length;
    const cases: [unknown, string][] = [
      [{ run: { name: "t" }, metrics: [{ step: 1, values: { loss: 1 }, time: 1e20 }] }, "metrics.0.time"],
      [{ run: { name: "t" }, logs: [{ message: "x", time: 1e300 }] }, "logs.0.time"],
      [{ run: { name: "a\u0000b" } }, "run.name"],
      [{ run: { name: "t" }, logs: [{ message: "bad\u0000line" }] }, "logs.0.message"],
      [
        { run: { name: "t" }, metrics: [{ step: 1, values: { "lo\u0000ss": 1 } }] },
        "metrics.0.values.lo\\u0000ss",
      ],
      [{ run: { name: "t", config: { note: "\u0000" } } }, "run.config.note"],
      [{ run: { name: "t" }, samples: [{ step: 0, prompt: "p", response: "\u0000" }] }, "samples.0.response"],
      [{ run: { name: "t", summary: { k: "v\u0000" } } }, "run.summary.k"],
    ];
    for (const [payload, path] of cases) {
      const error = (await refused(ingest(t, payload, { trusted: true }))) as IngestError;
      expect(error, path).toBeInstanceOf(IngestError);
      expect(error.status, path).toBe(400);
      expect(
        error.issues.map((i) => i.path),
        path,
      ).toContain(path);
      expect(error.message).not.toMatch(/insert|select|\$1/);
    }
    expect((await t.db.select().from(runs)).length).toBe(before);
  });
});
