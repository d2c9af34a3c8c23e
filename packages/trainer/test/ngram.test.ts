/**
 * Interpolated modified Kneser–Ney against probabilities worked out by hand (Chen & Goodman 1998's
 * formulas on a six-token corpus), normalisation over the vocabulary for every context, and the baseline's
 * scoring of held-out batches (mask, block starts) against a plain loop.
 */
import { describe, expect, it } from "vitest";
import type { LmBatch } from "../src/data";
import { mulberry32 } from "../src/model";
import { KneserNey, ngramBaseline } from "../src/ngram";

const [a, b, c, d] = [0, 1, 2, 3];

describe("KneserNey", () => {
  // Corpus a b a c a b, vocabulary {a, b, c, d} (d never seen), bigrams.
  // Bigram raw counts: ab 2, ba 1, ac 1, ca 1 → n₁ = 3, n₂ = 1, n₃ = n₄ = 0; Y = 3/(3+2) = 0.6;
  //   D₁ = 1 − 2·0.6·(1/3) = 0.6, D₂ = 2 − 3·0.6·(0/1) = 2.
  // Unigram continuation counts N₁₊(•w): a 2 (after b and c), b 1, c 1, d 0; total 4 distinct bigrams.
  //   n₁ = 2, n₂ = 1 → Y = 2/4 = 0.5; D₁ = 1 − 2·0.5·(1/2) = 0.5, D₂ = 2 − 0 = 2; γ = 0.5·2 + 2·1 = 3.
  //   P(a) = (max(2−2, 0) + 3·¼)/4 = 0.1875, P(b) = P(c) = (1−0.5 + 0.75)/4 = 0.3125, P(d) = 0.75/4 = 0.1875.
  // Context a: followers ab 2, ac 1 → c(a) = 3, γ(a) = 0.6·1 + 2·1 = 2.6.
  //   P(b|a) = (0 + 2.6·0.3125)/3 = 0.2708…, P(c|a) = (0.4 + 2.6·0.3125)/3 = 0.4041…,
  //   P(a|a) = P(d|a) = 2.6·0.1875/3 = 0.1625.
  const model = new KneserNey([[a, b, a, c, a, b]], { order: 2, vocabSize: 4 });

  it("gives the probabilities worked out by hand", () => {
    expect(model.discounts[2]![0]).toBeCloseTo(0.6, 12);
    expect(model.discounts[2]![1]).toBeCloseTo(2, 12);
    expect(model.discounts[1]![0]).toBeCloseTo(0.5, 12);
    const p = (history: number[], w: number) => model.probability(history, history.length, w);
    expect([a, b, c, d].map((w) => p([], w))).toEqual([0.1875, 0.3125, 0.3125, 0.1875]);
    expect(p([a], b)).toBeCloseTo((2.6 * 0.3125) / 3, 12);
    expect(p([a], c)).toBeCloseTo((0.4 + 2.6 * 0.3125) / 3, 12);
    expect(p([a], a)).toBeCloseTo(0.1625, 12);
    expect(p([a], d)).toBeCloseTo(0.1625, 12);
    // An unseen context (d) falls back to the unigrams; only the last order − 1 tokens count.
    expect(p([d], b)).toBe(0.3125);
    expect(p([c, c, a], c)).toBe(p([a], c));
  });

  it("sums to 1 over the vocabulary for every context, at every order", () => {
    const random = mulberry32(11);
    // A skewed random corpus in three sequences, so all counts of counts and unseen contexts occur.
    const sequences = [300, 200, 100].map((n) =>
      Array.from({ length: n }, () => Math.floor(random() ** 2 * 12)),
    );
    for (const order of [1, 3, 5]) {
      const kn = new KneserNey(sequences, { order, vocabSize: 14 });
      for (let trial = 0; trial < 40; trial++) {
        const history = Array.from({ length: 6 }, () => Math.floor(random() * 14));
        if (trial < 20) history.splice(0, 6, ...sequences[0]!.slice(trial * 7, trial * 7 + 6)); // seen ones
        let sum = 0;
        for (let w = 0; w < 14; w++) {
          const p = kn.probability(history, history.length, w);
          expect(p).toBeGreaterThan(0);
          sum += p;
        }
        expect(sum).toBeCloseTo(1, 10);
      }
    }
  });

  it("learns a deterministic pattern: a long-enough context predicts it almost surely", () => {
    const cycle = [4, 7, 1, 9, 2];
    const text = Array.from({ length: 500 }, (_, i) => cycle[i % 5]!);
    const kn = new KneserNey([text], { order: 3, vocabSize: 12 });
    expect(kn.probability([4, 7], 2, 1)).toBeGreaterThan(0.95);
    expect(kn.probability([], 0, 1)).toBeLessThan(0.25);
  });
});

describe("ngramBaseline", () => {
  it("scores the counted targets of held-out batches from the block's own tokens, per byte", () => {
    const random = mulberry32(5);
    const train = [Array.from({ length: 2000 }, () => Math.floor(random() ** 3 * 20))];
    const x = Int32Array.from({ length: 2 * 8 }, () => Math.floor(random() * 20));
    const y = Int32Array.from({ length: 2 * 8 }, () => Math.floor(random() * 20));
    const mask = Float32Array.from({ length: 16 }, (_, i) => (i % 3 === 0 ? 0 : 1));
    const batch: LmBatch = { x, y, mask, batchSize: 2, length: 8, tokens: 10 };
    const result = ngramBaseline({
      train,
      evalBatches: [batch],
      bytesPerToken: 2.5,
      vocabSize: 20,
      order: 3,
    });

    const kn = new KneserNey(train, { order: 3, vocabSize: 20 });
    let bits = 0;
    let counted = 0;
    for (let row = 0; row < 2; row++) {
      for (let t = 0; t < 8; t++) {
        if (mask[row * 8 + t] === 0) continue;
        const history = Array.from(x.slice(row * 8, row * 8 + t + 1));
        bits -= Math.log2(kn.probability(history, history.length, y[row * 8 + t]!));
        counted += 1;
      }
    }
    expect(result.bitsPerToken).toBeCloseTo(bits / counted, 12);
    expect(result.bitsPerByte).toBeCloseTo(bits / counted / 2.5, 12);
    expect(result.order).toBe(3);
    expect(result.ngrams).toBeGreaterThan(100);
  });
});
