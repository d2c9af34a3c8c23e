import { describe, expect, it } from "vitest";
import {
  agreementOf,
  type Battle,
  bradleyTerry,
  krippendorffAlpha,
  leaderboardOf,
  pairAgreement,
  rankingProblem,
  scoreAgainstGold,
} from "../src/labeling";
import { mulberry32 } from "../src/random";

describe("krippendorffAlpha", () => {
  // Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers, 12 units,
  // values 1..5 with missing data. The paper's results: nominal 0.743, ordinal 0.815, interval 0.849.
  const observers = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, null, null, null],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, null, 3],
    [null, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, null],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, null],
  ];
  const units = observers[0]!.map((_, u) =>
    observers.map((o) => o[u]).filter((v): v is number => v !== null && v !== undefined),
  );

  it("reproduces the textbook example for the nominal, ordinal and interval metrics", () => {
    expect(krippendorffAlpha(units, "nominal")).toBeCloseTo(0.743, 3);
    expect(krippendorffAlpha(units, "ordinal")).toBeCloseTo(0.815, 3);
    expect(krippendorffAlpha(units, "interval")).toBeCloseTo(0.849, 3);
  });

  it("is 1 for perfect agreement and null when nothing is pairable", () => {
    expect(
      krippendorffAlpha([
        [1, 1],
        [2, 2],
        [3, 3],
      ]),
    ).toBe(1);
    expect(krippendorffAlpha([[1], [2]])).toBeNull();
  });
});

describe("pairwise agreement", () => {
  it("counts response pairs ordered the same way, ties included", () => {
    // a > b > c against a > (b = c): agree on (a,b) and (a,c), not on (b,c).
    expect(pairAgreement([["a"], ["b"], ["c"]], [["a"], ["b", "c"]])).toEqual({ agreed: 2, pairs: 3 });
  });

  it("reports agreement and alpha over tasks ranked by two or more annotators", () => {
    const report = agreementOf([
      { taskId: "t1", annotator: "ann", ranking: [["x"], ["y"]] },
      { taskId: "t1", annotator: "bo", ranking: [["x"], ["y"]] },
      { taskId: "t2", annotator: "ann", ranking: [["p"], ["q"]] },
      { taskId: "t2", annotator: "bo", ranking: [["q"], ["p"]] },
      { taskId: "t3", annotator: "ann", ranking: [["r"], ["s"]] },
    ]);
    expect(report.overlappingTasks).toBe(2);
    expect(report.pairwiseAgreement).toBe(0.5);
    expect(report.byPair).toEqual([{ a: "ann", b: "bo", tasks: 2, agreement: 0.5 }]);
    // Units: x (1,1), y (2,2), p (1,2), q (2,1): 2 of 4 units disagree, alpha below 0.5.
    expect(report.alpha).toBeCloseTo(
      krippendorffAlpha([
        [1, 1],
        [2, 2],
        [1, 2],
        [2, 1],
      ])!,
      10,
    );
    expect(report.alpha!).toBeLessThan(0.5);
  });
});

describe("Bradley–Terry leaderboard", () => {
  it("recovers known strengths from simulated battles, within bootstrap intervals", () => {
    const truth: Record<string, number> = { alpha: 1150, beta: 1050, gamma: 950, delta: 850 };
    const models = Object.keys(truth);
    const random = mulberry32(7);
    const battles: Battle[] = [];
    for (let n = 0; n < 6000; n++) {
      const i = Math.floor(random() * 4);
      let j = Math.floor(random() * 3);
      if (j >= i) j++;
      const [a, b] = [models[i]!, models[j]!];
      const pA = 1 / (1 + 10 ** ((truth[b]! - truth[a]!) / 400));
      battles.push({ a, b, outcome: random() < pA ? 1 : 0 });
    }
    const board = leaderboardOf(battles, { rounds: 50, seed: 1 });
    expect(board.map((r) => r.model)).toEqual(["alpha", "beta", "gamma", "delta"]);
    for (const row of board) {
      // The truth is centred on 1000 as the fit is.
      expect(Math.abs(row.rating - truth[row.model]!)).toBeLessThan(25);
      expect(row.lower).toBeLessThan(row.rating);
      expect(row.upper).toBeGreaterThan(row.rating);
      expect(row.lower).toBeLessThan(truth[row.model]! + 5);
      expect(row.upper).toBeGreaterThan(truth[row.model]! - 5);
    }
    expect(board.reduce((n, r) => n + r.battles, 0)).toBe(2 * battles.length);
  });

  it("counts ties as half a win and keeps an unbeaten model finite", () => {
    const even = bradleyTerry(["a", "b"], [{ a: "a", b: "b", outcome: 0.5 }]);
    expect(even.get("a")).toBeCloseTo(even.get("b")!, 6);
    const unbeaten = bradleyTerry(["a", "b"], [{ a: "a", b: "b", outcome: 1 }]);
    expect(Number.isFinite(unbeaten.get("a"))).toBe(true);
    expect(unbeaten.get("a")!).toBeGreaterThan(unbeaten.get("b")!);
  });
});

describe("ranking rules", () => {
  it("says why a ranking is not an ordering of exactly the task's responses", () => {
    const ids = ["a", "b", "c"];
    expect(rankingProblem([["a"], ["b", "c"]], ids)).toBeUndefined();
    expect(rankingProblem([["a"], ["b"], ["z"]], ids)).toBe(
      "names response z, which is not one of this task's responses",
    );
    expect(rankingProblem([["a"], ["a"], ["b"]], ids)).toBe("lists response a twice");
    expect(rankingProblem([["a"], ["b"]], ids)).toMatch(/^leaves out 1 of the task's 3 responses \(c\)/);
  });

  it("scores an answer against a gold ranking on the pairs gold orders strictly", () => {
    const gold = [["a"], ["b", "c"]];
    expect(scoreAgainstGold(gold, [["a"], ["c"], ["b"]])).toEqual({ correct: 2, pairs: 2 });
    expect(scoreAgainstGold(gold, [["b"], ["a"], ["c"]])).toEqual({ correct: 1, pairs: 2 });
    expect(scoreAgainstGold(gold, null)).toEqual({ correct: 0, pairs: 2 });
  });
});
