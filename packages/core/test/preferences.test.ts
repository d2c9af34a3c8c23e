import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { comparisonTasks, datasets, rankings, taskCompletions, users } from "../src/db/schema";
import { createTestDatabase, type TestDatabase } from "../src/db/testing";
import { mulberry32, oracleScore } from "../src/demo";
import {
  createComparisonTasks,
  describeRankingSources,
  ensureOracleUser,
  expandRankingToPairs,
  loadRankingGroups,
  ORACLE_USER_ID,
  preferencePairs,
  rankWithOracle,
  recordRankings,
  splitByTask,
  taskHash,
  taskSplit,
} from "../src/preferences";

/** The plain reference: every ordered pair of completions whose groups differ, the better one chosen. */
function referencePairs(ranking: string[][]): [string, string][] {
  const rankOf = new Map<string, number>();
  ranking.forEach((group, g) => {
    for (const id of group) rankOf.set(id, g);
  });
  const ids = ranking.flat();
  const out: [string, string][] = [];
  for (const a of ids) for (const b of ids) if (rankOf.get(a)! < rankOf.get(b)!) out.push([a, b]);
  return out;
}

const sortPairs = (pairs: [string, string][]) => pairs.map((p) => p.join(">")).sort();

describe("expandRankingToPairs", () => {
  it("gives C(K,2) pairs for a strict ranking, best first", () => {
    const pairs = expandRankingToPairs([["a"], ["b"], ["c"], ["d"]]);
    expect(pairs).toHaveLength(6);
    expect(pairs[0]).toEqual({ chosen: "a", rejected: "b" });
    expect(pairs.every((p) => p.chosen < p.rejected)).toBe(true);
  });

  it("makes no pair inside a tie, and none for skipped, all-bad or empty answers", () => {
    expect(expandRankingToPairs([["a", "b"], ["c"]]).map((p) => `${p.chosen}>${p.rejected}`)).toEqual([
      "a>c",
      "b>c",
    ]);
    expect(expandRankingToPairs([["a", "b", "c"]])).toEqual([]);
    expect(expandRankingToPairs([["a"], ["b"]], { skipped: true })).toEqual([]);
    expect(expandRankingToPairs([["a"], ["b"]], { allBad: true })).toEqual([]);
    expect(expandRankingToPairs(null)).toEqual([]);
  });

  it("carries the strength as the margin", () => {
    expect(expandRankingToPairs([["a"], ["b"]], { strength: 2 })).toEqual([
      { chosen: "a", rejected: "b", margin: 2 },
    ]);
  });

  it("rejects a completion listed twice", () => {
    expect(() => expandRankingToPairs([["a"], ["b", "a"]])).toThrow(/completion a twice/);
  });

  it("matches a plain double loop on random rankings with ties", () => {
    const random = mulberry32(7);
    for (let trial = 0; trial < 200; trial++) {
      const k = 2 + Math.floor(random() * 8);
      const ids = Array.from({ length: k }, (_, i) => `c${i}`);
      const ranking: string[][] = [];
      for (const id of ids) {
        if (ranking.length > 0 && random() < 0.3) ranking[ranking.length - 1]!.push(id);
        else ranking.push([id]);
      }
      const got = expandRankingToPairs(ranking).map((p) => [p.chosen, p.rejected] as [string, string]);
      expect(sortPairs(got)).toEqual(sortPairs(referencePairs(ranking)));
      const ties = ranking.reduce((n, g) => n + (g.length * (g.length - 1)) / 2, 0);
      expect(got).toHaveLength((k * (k - 1)) / 2 - ties);
    }
  });
});

describe("describeRankingSources", () => {
  it("counts rankings per dataset and tells the oracle from people", () => {
    const g = (dataset: string, annotatorId: string) => ({ dataset, annotatorId });
    const text = describeRankingSources([
      g("demo-preferences", ORACLE_USER_ID),
      g("demo-preferences", ORACLE_USER_ID),
      g("team", "u1"),
      g("team", "u2"),
      g("team", "u1"),
      g("solo", "u3"),
    ]);
    expect(text).toBe(
      "demo-preferences: 2 rankings (2 by the oracle); team: 3 rankings (3 by 2 people); solo: 1 ranking (1 by 1 person)",
    );
    expect(describeRankingSources([g("mixed", ORACLE_USER_ID), g("mixed", "u1")])).toBe(
      "mixed: 2 rankings (1 by the oracle, 1 by 1 person)",
    );
  });
});

describe("taskSplit", () => {
  it("follows metadata.split, else a stable hash near the requested fraction", () => {
    expect(taskSplit("x", { split: "eval" }, 0)).toBe("eval");
    expect(taskSplit("x", { split: "train" }, 0.99)).toBe("train");
    const ids = Array.from(
      { length: 2000 },
      (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    );
    const held = ids.filter((id) => taskSplit(id, {}, 0.2) === "eval").length;
    expect(held / ids.length).toBeGreaterThan(0.17);
    expect(held / ids.length).toBeLessThan(0.23);
    expect(ids.map((id) => taskSplit(id, null, 0.2))).toEqual(ids.map((id) => taskSplit(id, {}, 0.2)));
  });
});

describe("splitByTask", () => {
  it("keeps a prompt's items together and holds out the lowest-hash prompt when nothing else is held out", () => {
    const items = ["p1", "p1", "p2", "p3"].map((prompt, i) => ({ prompt, split: "train" as const, i }));
    const { train, held } = splitByTask(items);
    const lowest = ["p1", "p2", "p3"].reduce((a, b) => (taskHash(b) < taskHash(a) ? b : a));
    expect(held.length).toBeGreaterThan(0);
    expect(held.every((x) => x.prompt === lowest)).toBe(true);
    expect(held.length + train.length).toBe(4);
    expect(train.some((x) => x.prompt === lowest)).toBe(false);
    const stated = splitByTask([
      { prompt: "a", split: "eval" as const },
      { prompt: "b", split: "train" as const },
    ]);
    expect(stated.held.map((x) => x.prompt)).toEqual(["a"]);
    expect(splitByTask([{ prompt: "only", split: "train" as const }]).held).toEqual([]);
  });
});

describe("comparison tasks and rankings in PostgreSQL", () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
    await t.db.insert(datasets).values([
      { name: "prefs", kind: "preferences", requiredRankings: 2 },
      { name: "other-prefs", kind: "preferences" },
      { name: "corpus", kind: "text" },
    ]);
    await t.db.insert(users).values({ id: "ann", name: "Ann", email: "ann@example.com" });
  });
  afterAll(async () => t?.drop());

  const responses = [
    "It was wonderful and lovely.",
    "It has a red door.",
    "It was terrible and awful.",
    "It was good.",
  ];

  it("creates completions, tasks and a stored, seeded display order in one transaction", async () => {
    const tasks = Array.from({ length: 6 }, (_, i) => ({
      prompt: `Tell me about thing ${i}.`,
      completions: responses.map((response) => ({ response, source: "test" })),
    }));
    const created = await createComparisonTasks(t.db, "prefs", tasks, { seed: 1 });
    expect(created).toHaveLength(6);
    const orders: string[] = [];
    for (const task of created) {
      const members = await t.db
        .select()
        .from(taskCompletions)
        .where(eq(taskCompletions.taskId, task.taskId))
        .orderBy(taskCompletions.position);
      expect(members.map((m) => m.position)).toEqual([0, 1, 2, 3]);
      expect(new Set(members.map((m) => m.completionId))).toEqual(new Set(task.completionIds));
      orders.push(members.map((m) => task.completionIds.indexOf(m.completionId)).join(""));
    }
    // Shuffled, not the given order every time.
    expect(new Set(orders).size).toBeGreaterThan(1);
    const [row] = await t.db.select().from(comparisonTasks).where(eq(comparisonTasks.id, created[0]!.taskId));
    expect(row!.requiredRankings).toBe(2);

    // The same seed gives the same display orders.
    const again = await createComparisonTasks(t.db, "other-prefs", tasks, { seed: 1 });
    for (const [i, task] of again.entries()) {
      const members = await t.db
        .select()
        .from(taskCompletions)
        .where(eq(taskCompletions.taskId, task.taskId))
        .orderBy(taskCompletions.position);
      expect(members.map((m) => task.completionIds.indexOf(m.completionId)).join("")).toBe(orders[i]);
    }
  });

  it("refuses a task with one completion, a missing dataset and a dataset of another kind, writing nothing", async () => {
    const before = await t.db.select().from(comparisonTasks);
    await expect(
      createComparisonTasks(t.db, "prefs", [{ prompt: "p", completions: [{ response: "r", source: "s" }] }], {
        seed: 0,
      }),
    ).rejects.toThrow(/task 0 .* has 1 completions; a task needs 2 to 9/);
    const two = [
      { prompt: "p", completions: responses.slice(0, 2).map((response) => ({ response, source: "s" })) },
    ];
    await expect(createComparisonTasks(t.db, "nope", two, { seed: 0 })).rejects.toThrow(
      /"nope" does not exist/,
    );
    await expect(createComparisonTasks(t.db, "corpus", two, { seed: 0 })).rejects.toThrow(/kind text/);
    expect(await t.db.select().from(comparisonTasks)).toHaveLength(before.length);
  });

  it("records the oracle's rankings once, counts them, and loads them as InstructGPT groups", async () => {
    expect(await ensureOracleUser(t.db)).toBe("oracle");
    await ensureOracleUser(t.db);
    const [oracle] = await t.db.select().from(users).where(eq(users.id, "oracle"));
    expect(oracle).toMatchObject({ name: "Sentiment oracle (AFINN)", role: "annotator" });

    expect(await rankWithOracle(t.db, "prefs")).toBe(6);
    expect(await rankWithOracle(t.db, "prefs")).toBe(0);
    const tasks = await t.db
      .select()
      .from(comparisonTasks)
      .innerJoin(datasets, eq(datasets.id, comparisonTasks.datasetId))
      .where(eq(datasets.name, "prefs"));
    expect(tasks.every((r) => r.comparison_tasks.rankingCount === 1)).toBe(true);

    const groups = await loadRankingGroups(t.db, ["prefs"], { evalFraction: 0.5 });
    expect(groups).toHaveLength(6);
    // One transaction wrote the six tasks (one timestamp, random ids): they come back in the order of what
    // they hold, so the same data trains in the same order in every database.
    const prompts = groups.map((g) => g.prompt);
    expect(prompts).toEqual(Array.from({ length: 6 }, (_, i) => `Tell me about thing ${i}.`));
    for (const group of groups) {
      expect(group.annotatorId).toBe("oracle");
      expect(group.completions).toHaveLength(4);
      // Four distinct oracle scores (7, 0, -6, 3): a strict ranking, C(4,2) = 6 pairs.
      expect(group.pairs).toHaveLength(6);
      for (const [c, r] of group.pairs) {
        expect(oracleScore(group.completions[c]!.response)).toBeGreaterThan(
          oracleScore(group.completions[r]!.response),
        );
      }
      expect(group.split).toBe(taskSplit(group.prompt, {}, 0.5));
    }
    const train = await loadRankingGroups(t.db, ["prefs"], { split: "train", evalFraction: 0.5 });
    const held = await loadRankingGroups(t.db, ["prefs"], { split: "eval", evalFraction: 0.5 });
    expect(train.length + held.length).toBe(6);
    expect(train.every((g) => g.split === "train") && held.every((g) => g.split === "eval")).toBe(true);

    const plain = preferencePairs(groups);
    expect(plain).toHaveLength(36);
    expect(plain[0]).toEqual({
      prompt: groups[0]!.prompt,
      chosen: "It was wonderful and lovely.",
      rejected: "It was good.",
    });
  });

  it("keeps ties, skips and all-bad answers out of the pairs, and filters by annotator", async () => {
    const [task] = await createComparisonTasks(
      t.db,
      "other-prefs",
      [
        {
          prompt: "Ties?",
          completions: responses.slice(0, 3).map((response) => ({ response, source: "s" })),
        },
      ],
      { seed: 3 },
    );
    const [a, b, c] = task!.completionIds as [string, string, string];
    await t.db.insert(users).values([
      { id: "bob", name: "Bob", email: "bob@example.com" },
      { id: "cy", name: "Cy", email: "cy@example.com" },
    ]);
    await recordRankings(t.db, "ann", [{ taskId: task!.taskId, ranking: [[a, b], [c]], strength: 2 }]);
    await recordRankings(t.db, "bob", [{ taskId: task!.taskId, skipped: true }]);
    await recordRankings(t.db, "cy", [{ taskId: task!.taskId, allBad: true }]);
    const [row] = await t.db.select().from(comparisonTasks).where(eq(comparisonTasks.id, task!.taskId));
    expect(row!.rankingCount).toBe(3);

    const groups = (await loadRankingGroups(t.db, ["other-prefs"])).filter((g) => g.taskId === task!.taskId);
    expect(groups).toHaveLength(1);
    const [group] = groups;
    const named = group!.pairs.map(([x, y]) => `${group!.completions[x]!.id}>${group!.completions[y]!.id}`);
    expect(named.sort()).toEqual([`${a}>${c}`, `${b}>${c}`].sort());
    expect(group!.strength).toBe(2);
    expect(preferencePairs(groups, { margin: true }).every((p) => p.margin === 2)).toBe(true);
    expect(await loadRankingGroups(t.db, ["other-prefs"], { annotators: ["bob"] })).toEqual([]);
  });

  it("rejects rankings that do not order each completion of the task once, and unknown datasets", async () => {
    const [task] = await createComparisonTasks(
      t.db,
      "other-prefs",
      [{ prompt: "Bad?", completions: responses.slice(0, 3).map((response) => ({ response, source: "s" })) }],
      { seed: 4 },
    );
    const [a, b, c] = task!.completionIds as [string, string, string];
    await expect(
      recordRankings(t.db, "ann", [{ taskId: task!.taskId, ranking: [[a], [b]] }]),
    ).rejects.toThrow(/orders 2 of the task's 3 completions/);
    await expect(
      recordRankings(t.db, "ann", [{ taskId: task!.taskId, ranking: [[a], [b], [c], [a]] }]),
    ).rejects.toThrow(/twice/);
    await expect(
      recordRankings(t.db, "ann", [{ taskId: task!.taskId, ranking: [[a], [b], ["x"]] }]),
    ).rejects.toThrow(/not the task's/);
    const stored = await t.db.select().from(rankings).where(eq(rankings.taskId, task!.taskId));
    expect(stored).toEqual([]);
    await expect(loadRankingGroups(t.db, ["missing"])).rejects.toThrow(
      /preference dataset "missing" does not exist; preference datasets: .*prefs/,
    );
    await expect(loadRankingGroups(t.db, ["corpus"])).rejects.toThrow(/kind text/);
  });
});
