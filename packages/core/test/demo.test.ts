import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { datasets, examples } from "../src/db/schema";
import { createTestDatabase, type TestDatabase } from "../src/db/testing";
import { generateDemo, oracleRanking, oracleScore, seedDemo } from "../src/demo";

describe("demo generator", () => {
  it("is deterministic and varied", () => {
    const a = generateDemo({ corpusSize: 200, sftSize: 50 });
    const b = generateDemo({ corpusSize: 200, sftSize: 50 });
    expect(a).toEqual(b);
    expect(new Set(a.corpus).size).toBeGreaterThan(190);
    expect(generateDemo({ seed: 7, corpusSize: 200 }).corpus).not.toEqual(a.corpus);
  });

  it("gives the oracle a clear preference between positive and negative answers", () => {
    const { sft } = generateDemo({ sftSize: 600 });
    const mean = (s: string) => {
      const xs = sft.filter((p) => p.sentiment === s).map((p) => oracleScore(p.response));
      return xs.reduce((x, y) => x + y, 0) / xs.length;
    };
    expect(mean("positive")).toBeGreaterThan(2);
    expect(mean("negative")).toBeLessThan(-2);
    expect(Math.abs(mean("neutral"))).toBeLessThan(1);
  });

  it("ranks by oracle score, best first, with equal scores tied", () => {
    const ranking = oracleRanking([
      { id: "bad", response: "It was terrible and awful." },
      { id: "good", response: "It was wonderful and lovely." },
      { id: "plain", response: "It has a red door." },
      { id: "plain2", response: "It is near the station." },
    ]);
    expect(ranking).toEqual([["good"], ["plain", "plain2"], ["bad"]]);
  });
});

describe("seedDemo", () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => t?.drop());

  it("seeds once, even when two seeders race", async () => {
    const results = await Promise.all([
      seedDemo(t.db, { corpusSize: 300, sftSize: 100 }),
      seedDemo(t.db, { corpusSize: 300, sftSize: 100 }),
    ]);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const [corpus] = await t.db.select().from(datasets).where(eq(datasets.name, "demo-corpus"));
    const [{ n }] = (
      await t.db.execute<{ n: number }>(
        sql`select count(*)::int as n from ${examples} where dataset_id = ${corpus!.id}`,
      )
    ).rows as [{ n: number }];
    expect(n).toBe(300);
    expect((await seedDemo(t.db)).created).toBe(false);
  });
});
