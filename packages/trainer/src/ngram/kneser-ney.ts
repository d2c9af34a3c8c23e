/**
 * Interpolated modified Kneser–Ney (Chen & Goodman 1998, "An Empirical Study of Smoothing Techniques for
 * Language Modeling", §3.4-3.5): the statistical language model of the primer's history, the baseline a
 * neural LM should beat. Over token ids, so it shares the transformer's tokenizer and its bits per byte.
 *
 *   P(w | h) = (max(c(hw) − D(c(hw)), 0) + γ(h) · P(w | h′)) / c(h)        h′ = h without its first token
 *   γ(h)     = D₁ N₁(h•) + D₂ N₂(h•) + D₃₊ N₃₊(h•)
 *   D₁ = 1 − 2Y n₂/n₁,  D₂ = 2 − 3Y n₃/n₂,  D₃₊ = 3 − 4Y n₄/n₃,  Y = n₁ / (n₁ + 2 n₂)
 *
 * c is the raw count at the highest order and the continuation count N₁₊(•hw) (distinct left neighbours)
 * below it; c(h) = Σ_w c(hw); Nₖ(h•) counts the followers of h whose c is k (3₊: at least 3); nₖ counts the
 * n-grams of one order whose c is k. Under the unigrams lies the uniform distribution over the vocabulary.
 * A context with c(h) = 0 (never seen, or seen only where no left neighbour could be counted) passes its
 * lower order's probability through unchanged.
 */

/** Counts of one n-gram model, in a trie: node = a token sequence, child = that sequence plus one token. */
export class KneserNey {
  readonly order: number;
  readonly vocabSize: number;
  /** Discounts D₁, D₂, D₃₊ of each order (index 1 = unigrams). */
  readonly discounts: [number, number, number][];
  private readonly children = new Map<number, number>();
  private readonly depth: number[] = [0];
  private rawCount: Int32Array = new Int32Array(0);
  private continuation: Int32Array = new Int32Array(0);
  /** Per context node: Σ_w c(hw) and N₁, N₂, N₃₊ of its followers, under the counts of the followers' order. */
  private contextTotal: Float64Array = new Float64Array(0);
  private followers: Int32Array = new Int32Array(0);

  /**
   * Counts every n-gram up to `order` in each sequence (a sequence is one stretch of text: n-grams never
   * cross from one to the next).
   */
  constructor(sequences: Iterable<ArrayLike<number>>, options: { order?: number; vocabSize: number }) {
    this.order = options.order ?? 5;
    this.vocabSize = options.vocabSize;
    if (!Number.isInteger(this.order) || this.order < 1) {
      throw new RangeError(`order must be a positive integer, got ${this.order}`);
    }
    const raw: number[] = [0];
    const parent: number[] = [-1];
    const token: number[] = [-1];
    for (const sequence of sequences) {
      for (let i = 0; i < sequence.length; i++) {
        let node = 0;
        for (let k = 0; k < this.order && i + k < sequence.length; k++) {
          const w = sequence[i + k]!;
          if (!(w >= 0 && w < this.vocabSize)) {
            throw new RangeError(`token ${w} is outside the vocabulary of ${this.vocabSize}`);
          }
          const key = node * this.vocabSize + w;
          let child = this.children.get(key);
          if (child === undefined) {
            child = raw.length;
            this.children.set(key, child);
            raw.push(0);
            parent.push(node);
            token.push(w);
            this.depth.push(this.depth[node]! + 1);
          }
          raw[child]! += 1;
          node = child;
        }
      }
    }
    const nodes = raw.length;
    this.rawCount = Int32Array.from(raw);
    // Continuation counts: each distinct n-gram v·s adds one to N₁₊(•s). Its suffix s is the node reached
    // from the parent's suffix by the same token (parents come before children, so it is known).
    this.continuation = new Int32Array(nodes);
    const suffix = new Int32Array(nodes);
    for (let node = 1; node < nodes; node++) {
      const p = parent[node]!;
      suffix[node] = p === 0 ? 0 : this.children.get(suffix[p]! * this.vocabSize + token[node]!)!;
      if (this.depth[node]! >= 2) this.continuation[suffix[node]!]! += 1;
    }
    // The count each n-gram is modelled with; context statistics; counts of counts per order.
    this.contextTotal = new Float64Array(nodes);
    this.followers = new Int32Array(nodes * 3);
    const countsOfCounts = Array.from({ length: this.order + 1 }, () => [0, 0, 0, 0, 0]);
    for (let node = 1; node < nodes; node++) {
      const c = this.countOf(node);
      const k = this.depth[node]!;
      if (c >= 1 && c <= 4) countsOfCounts[k]![c]! += 1;
      if (c === 0) continue;
      const p = parent[node]!;
      this.contextTotal[p]! += c;
      this.followers[p * 3 + Math.min(c, 3) - 1]! += 1;
    }
    // Chen & Goodman's estimates where they are defined; the fallbacks only matter for a tiny corpus.
    this.discounts = countsOfCounts.map(([, n1 = 0, n2 = 0, n3 = 0, n4 = 0]) => {
      if (n1 === 0) return [0.5, 1, 1.5];
      const y = n1 / (n1 + 2 * n2);
      const clamp = (d: number, c: number) => Math.min(Math.max(d, 0), c);
      return [
        clamp(1 - 2 * y * (n2 / n1), 1),
        clamp(n2 > 0 ? 2 - 3 * y * (n3 / n2) : 1, 2),
        clamp(n3 > 0 ? 3 - 4 * y * (n4 / n3) : 1.5, 3),
      ];
    });
  }

  /** n-grams counted (all orders). */
  get size(): number {
    return this.rawCount.length - 1;
  }

  private countOf(node: number): number {
    return this.depth[node] === this.order ? this.rawCount[node]! : this.continuation[node]!;
  }

  /**
   * P(w | history[end − order + 1 .. end)) — the history is the `end` tokens before the target, of which
   * the last order − 1 are used.
   */
  probability(history: ArrayLike<number>, end: number, w: number): number {
    let p = 1 / this.vocabSize;
    // Lowest order first: the unigram's context is the empty one (the root), then one token more each time.
    for (let k = 1; k <= this.order; k++) {
      const start = end - (k - 1);
      if (start < 0) break;
      let h: number | undefined = 0;
      for (let i = start; i < end && h !== undefined; i++)
        h = this.children.get(h * this.vocabSize + history[i]!);
      if (h === undefined) break; // an unseen context: no longer one is seen either
      const total = this.contextTotal[h]!;
      if (total === 0) continue;
      const [d1, d2, d3] = this.discounts[k]!;
      const gamma =
        d1 * this.followers[h * 3]! + d2 * this.followers[h * 3 + 1]! + d3 * this.followers[h * 3 + 2]!;
      const child = this.children.get(h * this.vocabSize + w);
      const c = child === undefined ? 0 : this.countOf(child);
      const discounted = c === 0 ? 0 : Math.max(c - (c === 1 ? d1 : c === 2 ? d2 : d3), 0);
      p = (discounted + gamma * p) / total;
    }
    return p;
  }
}
