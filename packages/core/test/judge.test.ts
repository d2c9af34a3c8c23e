/** The demo's second judges: VADER's compound score and distinct-n, on texts whose answers are known. */
import { describe, expect, it } from "vitest";
import { distinctN, oracleScore, vaderScore } from "../src/demo";

describe("vaderScore", () => {
  it("gives VADER's published compound scores", () => {
    // The examples of VADER's README (vaderSentiment, Hutto & Gilbert), scores as its reference code prints them.
    expect(vaderScore("VADER is smart, handsome, and funny.")).toBeCloseTo(0.8316, 4);
    expect(vaderScore("VADER is smart, handsome, and funny!")).toBeCloseTo(0.8439, 4);
    expect(vaderScore("VADER is very smart, handsome, and funny.")).toBeCloseTo(0.8545, 4);
    expect(vaderScore("VADER is not smart, handsome, nor funny.")).toBeCloseTo(-0.7424, 4);
    expect(vaderScore("The book was good.")).toBeCloseTo(0.4404, 4);
    expect(vaderScore("A really bad, horrible book.")).toBeCloseTo(-0.8211, 4);
  });

  it("reads negation where the oracle does not weigh it the same way", () => {
    const text = "The food was not bad at all!";
    expect(vaderScore(text)!).toBeGreaterThan(0);
    expect(oracleScore(text)).not.toBe(vaderScore(text));
  });

  it("is 0 for neutral text and null for Chinese", () => {
    expect(vaderScore("We visited the market yesterday; it has a red door.")).toBe(0);
    expect(vaderScore("今天的天气很好")).toBeNull();
  });
});

describe("distinctN", () => {
  it("counts distinct word n-grams over all n-grams of all texts", () => {
    expect(distinctN(["a b c", "a b d"], 2)).toBeCloseTo(3 / 4, 10); // a b, b c, a b, b d
    expect(distinctN(["good good good good"], 2)).toBeCloseTo(1 / 3, 10);
    expect(distinctN(["Good, GOOD good"], 1)).toBeCloseTo(1 / 3, 10);
    expect(distinctN(["我很好"], 1)).toBe(1);
    expect(distinctN(["one"], 2)).toBeNaN();
  });
});
