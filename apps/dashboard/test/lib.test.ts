/** The dashboard's pure helpers against plain references. */
import { jobConfigSchemas } from "@rlhf/core/configs";
import { safeNext } from "@rlhf/ui/safe-next";
import { describe, expect, it } from "vitest";
import { groupByNamespace } from "~/app/_components/charts/chart-data";
import {
  alignedRange,
  bucketWidthFor,
  downsampleMinMax,
  foldPoints,
  type Point,
  toColumns,
} from "~/lib/buckets";
import { configDiff } from "~/lib/config-diff";
import {
  configFields,
  describeBounds,
  getPath,
  leafFields,
  rewardTermForm,
  setPath,
  validateConfig,
} from "~/lib/config-form";
import { type ChartFetcher, LiveCharts } from "~/lib/live-charts";
import { gpt2ParameterCount } from "~/lib/model-facts";
import { debiasedEma } from "~/lib/smoothing";

/** A seeded noisy series with spikes (values repeat, so ties are exercised too). */
function series(n: number, seed = 1, firstStep = 0, stride = 1): Point[] {
  let s = seed;
  const rand = () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s / 2 ** 31;
  };
  return Array.from({ length: n }, (_, i) => ({
    step: firstStep + i * stride,
    value: Math.round((2 / (1 + i / 50) + rand() * 0.3 + (rand() < 0.01 ? 5 : 0)) * 20) / 20,
    time: 1_700_000_000_000 + i * 1000,
  }));
}

describe("safeNext", () => {
  it("keeps paths of this site and turns anything else into /", () => {
    expect(safeNext("/launch?kind=ppo")).toBe("/launch?kind=ppo");
    expect(safeNext("/playground")).toBe("/playground");
    for (const elsewhere of ["//evil.example", "/\\evil.example", "https://evil.example", "evil", ""]) {
      expect(safeNext(elsewhere)).toBe("/");
    }
    expect(safeNext(["/a", "/b"])).toBe("/");
    expect(safeNext(undefined)).toBe("/");
  });

  it("never leads off the site, whatever character a browser strips or rewrites (/%09/evil.com and kin)", () => {
    const site = "https://dash.example";
    const landsHere = (next: string) => new URL(safeNext(next), `${site}/login`).origin === site;
    // As the login page receives them: the query string decoded once.
    for (const query of [
      "/%09/evil.com",
      "/%0A/evil.com",
      "/%0D/evil.com",
      "/%09%0A/evil.com",
      "/%5C%09evil.com",
    ]) {
      const next = new URLSearchParams(`next=${query}`).get("next")!;
      expect(landsHere(next), query).toBe(true);
      expect(safeNext(next), query).toBe("/");
    }
    // Every ASCII character and a few others, once and twice, after the first slash.
    const odd = [
      ...Array.from({ length: 128 }, (_, c) => String.fromCharCode(c)),
      "\u00a0",
      "\u3000",
      "\ufeff",
    ];
    for (const c of odd) {
      for (const next of [`/${c}/evil.com`, `/${c}${c}evil.com`, `/${c}\\evil.com`, `/.${c}/evil.com`]) {
        expect(landsHere(next), JSON.stringify(next)).toBe(true);
      }
    }
    for (const next of ["/.//evil.com", "/a/..//evil.com", "/%2e%2e//evil.com", "/./\\evil.com"]) {
      expect(landsHere(next), next).toBe(true);
      expect(safeNext(next), next).toBe("/");
    }
    // Paths of the site come back as the browser would read them.
    expect(safeNext("/runs/abc?tab=charts#loss")).toBe("/runs/abc?tab=charts#loss");
    expect(safeNext("/a/../launch")).toBe("/launch");
  });
});

describe("groupByNamespace", () => {
  it("groups by the first segment, with one group per reward function", () => {
    expect(
      groupByNamespace([
        "rewards/sentiment/std",
        "loss",
        "rewards/chosen",
        "objective/kl",
        "rewards/sentiment/mean",
        "rewards/length/mean",
        "eval/loss",
      ]),
    ).toEqual([
      { namespace: "train", keys: ["loss"] },
      { namespace: "objective", keys: ["objective/kl"] },
      { namespace: "eval", keys: ["eval/loss"] },
      { namespace: "rewards", keys: ["rewards/chosen"] },
      { namespace: "rewards/length", keys: ["rewards/length/mean"] },
      { namespace: "rewards/sentiment", keys: ["rewards/sentiment/mean", "rewards/sentiment/std"] },
    ]);
  });

  it("charts the on-policy timing as one group after perf, phases in order and the total last", () => {
    expect(
      groupByNamespace([
        "timing/total",
        "timing/update",
        "perf/step_seconds",
        "timing/reward",
        "time/rollout_seconds",
        "timing/generation",
        "timing/reference",
        "reward",
      ]),
    ).toEqual([
      { namespace: "train", keys: ["reward"] },
      { namespace: "perf", keys: ["perf/step_seconds"] },
      {
        namespace: "timing",
        keys: ["timing/generation", "timing/reference", "timing/reward", "timing/update", "timing/total"],
      },
      // An older PPO run's keys: their own group.
      { namespace: "time", keys: ["time/rollout_seconds"] },
    ]);
  });
});

describe("debiasedEma", () => {
  /** TensorBoard's loop, as written in its line chart (without the look-ahead constant check). */
  function tensorBoard(values: number[], weight: number): number[] {
    let last = 0;
    let numAccum = 0;
    return values.map((value) => {
      if (!Number.isFinite(value)) return value;
      last = last * weight + (1 - weight) * value;
      numAccum++;
      const debiasWeight = weight === 1 ? 1 : 1 - weight ** numAccum;
      return last / debiasWeight;
    });
  }

  it("matches TensorBoard's debiased EMA", () => {
    const values = series(500).map((p) => p.value);
    for (const weight of [0, 0.6, 0.9, 0.99, 0.999]) {
      const got = debiasedEma(values, weight);
      for (const [i, want] of tensorBoard(values, weight).entries()) expect(got[i]).toBeCloseTo(want, 10);
    }
  });

  it("starts at the first value (no bias toward 0) and passes non-finite values through", () => {
    expect(debiasedEma([5, 5, 5], 0.9)).toEqual([5, 5, 5].map(() => expect.closeTo(5, 12)));
    expect(debiasedEma([1, Number.NaN, null, 3], 0.5)).toEqual([
      1,
      Number.NaN,
      null,
      expect.closeTo(7 / 3, 12),
    ]);
  });

  it("never moves a past point when new points arrive", () => {
    const values = series(1000).map((p) => p.value);
    const before = debiasedEma(values.slice(0, 600), 0.95);
    const after = debiasedEma(values, 0.95);
    expect(after.slice(0, 600)).toEqual(before);
  });

  it("refuses a weight outside [0, 1)", () => {
    expect(() => debiasedEma([1], 1)).toThrow(/\[0, 1\)/);
  });
});

describe("buckets", () => {
  /** Brute force: group by bucket, then min (earliest on ties), max (earliest on ties), last. */
  function reference(points: Point[], width: number): Point[] {
    const groups = new Map<number, Point[]>();
    for (const p of points)
      groups.set(Math.floor(p.step / width), [...(groups.get(Math.floor(p.step / width)) ?? []), p]);
    const kept = new Map<number, Point>();
    for (const group of groups.values()) {
      const min = Math.min(...group.map((p) => p.value));
      const max = Math.max(...group.map((p) => p.value));
      for (const p of [
        group.find((q) => q.value === min)!,
        group.find((q) => q.value === max)!,
        group.at(-1)!,
      ])
        kept.set(p.step, p);
    }
    return [...kept.values()].sort((a, b) => a.step - b.step);
  }

  it("keeps the min, the max and the last point of each bucket", () => {
    const points = series(5000, 7, 3, 2);
    for (const width of [1, 2, 16, 64, 1024])
      expect(downsampleMinMax(points, width)).toEqual(reference(points, width));
  });

  it("chooses the smallest power-of-two width that fits the range, aligned to step 0", () => {
    expect(bucketWidthFor(0, 99, 100)).toBe(1);
    expect(bucketWidthFor(0, 100, 100)).toBe(2);
    expect(bucketWidthFor(0, 999_999, 1000)).toBe(1024);
    expect(bucketWidthFor(500, 600, 10)).toBe(16);
    expect(alignedRange(500, 600, 16)).toEqual({ fromStep: 496, toStep: 607, buckets: 7 });
  });

  it("folding new points into the buckets equals downsampling everything", () => {
    const points = series(3000, 3);
    const width = 32;
    for (const cut of [1, 100, 1000, 1001, 2999]) {
      const kept = downsampleMinMax(points.slice(0, cut), width);
      expect(foldPoints(kept, points.slice(cut), width)).toEqual(downsampleMinMax(points, width));
    }
    // Folding in several small reads, as a live chart does.
    let live = downsampleMinMax(points.slice(0, 10), width);
    for (let i = 10; i < points.length; i += 37) live = foldPoints(live, points.slice(i, i + 37), width);
    expect(live).toEqual(downsampleMinMax(points, width));
  });

  it("merging buckets (a doubled width) equals downsampling the raw points at that width", () => {
    const points = series(4000, 11);
    expect(downsampleMinMax(downsampleMinMax(points, 8), 16)).toEqual(downsampleMinMax(points, 16));
  });

  it("folds only points after the last one it has", () => {
    const kept = downsampleMinMax(series(10), 1);
    expect(foldPoints(kept, series(12).slice(5), 1)).toEqual(downsampleMinMax(series(12), 1));
  });
});

describe("LiveCharts", () => {
  /** A server over in-memory series, answering as the real one does (aligned buckets, cursor reads). */
  function fakeServer(data: Map<string, Point[]>) {
    const asked: { afterStep: number }[][] = [];
    const fetcher: ChartFetcher = {
      series: async ({ runIds, key, buckets }) => {
        const all = runIds.flatMap((id) => data.get(`${id}/${key}`) ?? []);
        const lo = Math.min(...all.map((p) => p.step));
        const hi = Math.max(...all.map((p) => p.step));
        const width = bucketWidthFor(lo, hi, buckets);
        return {
          bucketWidth: width,
          fromStep: lo,
          toStep: hi,
          runs: runIds.map((id) => ({
            runId: id,
            ...toColumns(downsampleMinMax(data.get(`${id}/${key}`) ?? [], width)),
          })),
        };
      },
      since: async ({ cursors }) => {
        asked.push(cursors);
        return cursors.map((c) => ({
          ...c,
          ...toColumns((data.get(`${c.runId}/${c.key}`) ?? []).filter((p) => p.step > c.afterStep)),
        }));
      },
    };
    return { fetcher, asked };
  }

  it("loads a key, then reads only the points after each series' last step, and merges buckets as a series grows", async () => {
    const full = series(5000, 5);
    const data = new Map([["a/loss", full.slice(0, 100)]]);
    const { fetcher, asked } = fakeServer(data);
    const charts = new LiveCharts(fetcher, ["a"]);
    let changes = 0;
    charts.subscribe("loss", () => changes++);
    await charts.load("loss", 100);
    expect(charts.get("loss")).toMatchObject({ status: "ready", bucketWidth: 1 });

    data.set("a/loss", full.slice(0, 150));
    await charts.poll();
    expect(asked.at(-1)).toEqual([{ runId: "a", key: "loss", afterStep: 99 }]);
    expect(charts.get("loss")!.runs.get("a")).toEqual(full.slice(0, 150));

    // Past twice the chart's width: buckets merge until the series fits again, as the server would send it.
    data.set("a/loss", full);
    await charts.poll();
    const state = charts.get("loss")!;
    expect(state.bucketWidth).toBe(bucketWidthFor(0, 4999, 100));
    expect(state.runs.get("a")).toEqual(downsampleMinMax(full, state.bucketWidth));
    expect(changes).toBeGreaterThanOrEqual(3);
  });
});

describe("config form", () => {
  it("reads every field of every job kind, with its doc", () => {
    for (const kind of Object.keys(jobConfigSchemas) as (keyof typeof jobConfigSchemas)[]) {
      const leaves = leafFields(configFields(kind));
      expect(leaves.length).toBeGreaterThan(5);
      for (const field of leaves) expect(field.description, `${kind}.${field.path}`).not.toBe("");
    }
  });

  it("gives each field the schema's default, bounds and type", () => {
    const fields = leafFields(configFields("pretrain"));
    const field = (path: string) => fields.find((f) => f.path === path)!;
    // The defaults shown are the ones the schema fills in.
    const parsed = jobConfigSchemas.pretrain.parse({});
    for (const f of fields)
      if ("defaultValue" in f) expect(f.defaultValue, f.path).toEqual(getPath(parsed, f.path));
    expect(field("maxSteps")).toMatchObject({
      type: "number",
      integer: true,
      defaultValue: 300,
      required: false,
    });
    expect(describeBounds(field("maxSteps"))).toBe("integer, ≥ 1");
    expect(describeBounds(field("evalFraction"))).toBe("> 0, < 1");
    expect(field("model.nEmbd")).toMatchObject({ type: "number", multipleOf: 8, required: false });
    expect(field("model.preset")).toMatchObject({ type: "enum", options: ["tiny", "small", "gpt2"] });
    expect(field("init")).toMatchObject({ type: "string", checkpoint: true, required: false });
    expect(field("samplePrompts")).toMatchObject({ type: "string-list" });
    expect(field("dataset")).toMatchObject({ type: "string", checkpoint: false });
  });

  it("marks checkpoint references as pickers and required ones as required", () => {
    const ppo = leafFields(configFields("ppo"));
    expect(ppo.find((f) => f.path === "policy")).toMatchObject({ checkpoint: true, required: true });
    expect(ppo.find((f) => f.path === "rewardModel")).toMatchObject({ checkpoint: true, required: false });
    expect(ppo.find((f) => f.path === "rewardFunction")).toMatchObject({
      checkpoint: false,
      pattern: "^(sentiment|contains:.+)$",
    });
  });

  it("reads what a field names from its schema: a dataset of a kind, a checkpoint fitting runs of kinds", () => {
    const field = (kind: keyof typeof jobConfigSchemas, path: string) =>
      leafFields(configFields(kind)).find((f) => f.path === path);
    expect(field("pretrain", "dataset")).toMatchObject({ dataset: "text", checkpoint: false, prefer: [] });
    expect(field("sft", "init")).toMatchObject({ checkpoint: true, prefer: ["pretrain", "sft"] });
    expect(field("ppo", "rewardModel")).toMatchObject({ checkpoint: true, prefer: ["reward"] });
    expect(field("grpo", "policy")).toMatchObject({ prefer: ["sft", "grpo", "rloo", "ppo", "dpo"] });
    // RLOO shares GRPO's field, with its own kind first.
    expect(field("rloo", "policy")).toMatchObject({ prefer: ["sft", "rloo", "grpo", "ppo", "dpo"] });
    expect(field("rloo", "policy")?.description).toBe(field("grpo", "policy")?.description);
    expect(field("rloo", "prompts")).toMatchObject({ dataset: "prompts" });
    expect(field("dpo", "datasets")).toMatchObject({ type: "string-list", dataset: "preferences" });
    expect(field("generate", "dataset")).toMatchObject({ dataset: "preferences" });
    expect(field("serve", "checkpoint")).toMatchObject({ checkpoint: true, prefer: [] });
    expect(field("sft", "samplePrompts")).not.toHaveProperty("dataset");
    const rewardModel = rewardTermForm().builtins.find((b) => b.name === "reward_model");
    expect(rewardModel?.params.find((p) => p.path === "params.checkpoint")).toMatchObject({
      checkpoint: true,
      prefer: ["reward"],
    });
  });

  it("validates with the schema and reports issues by path", () => {
    expect(validateConfig("pretrain", {})).toEqual([]);
    expect(validateConfig("pretrain", { maxSteps: 0, model: { nEmbd: 30 } })).toEqual([
      { path: "model.nEmbd", message: expect.stringMatching(/multiple of 8/) },
      { path: "maxSteps", message: expect.stringMatching(/>=\s*1/) },
    ]);
    expect(validateConfig("ppo", { policy: "run:x" })).toEqual([
      { path: "rewardModel", message: expect.stringMatching(/give a reward: rewardModel/) },
    ]);
  });

  it("sets and clears nested paths", () => {
    let value = setPath({}, "model.nEmbd", 64);
    value = setPath(value, "maxSteps", 10);
    expect(value).toEqual({ model: { nEmbd: 64 }, maxSteps: 10 });
    expect(setPath(value, "model.nEmbd", undefined)).toEqual({ maxSteps: 10 });
  });
});

describe("configDiff", () => {
  it("lists every leaf path with each side's value, and which differ", () => {
    const rows = configDiff(
      { a: 1, model: { d: 64, n: 2 }, list: ["x"] },
      { a: 1, model: { d: 128 }, list: ["x", "y"], extra: true },
    );
    expect(rows).toEqual([
      { path: "a", left: 1, right: 1, same: true },
      { path: "extra", left: undefined, right: true, same: false },
      { path: "list", left: ["x"], right: ["x", "y"], same: false },
      { path: "model.d", left: 64, right: 128, same: false },
      { path: "model.n", left: 2, right: undefined, same: false },
    ]);
  });
});

describe("gpt2ParameterCount", () => {
  it("counts GPT-2 small's 124,439,808 parameters", () => {
    expect(gpt2ParameterCount({ vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12 })).toBe(
      124_439_808,
    );
  });
});
