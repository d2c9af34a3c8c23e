import { eq } from "drizzle-orm";
import Sentiment from "sentiment";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { datasets } from "../src/db/schema";
import { createTestDatabase, type TestDatabase } from "../src/db/testing";
import { demoChain, generateDemo, mulberry32, oracleRanking, oracleScore, seedDemo } from "../src/demo";
import { sentenceZh, TOPICS_ZH } from "../src/demo/generator-zh";
import { chineseSentiment, segmentZh } from "../src/demo/lexicon-zh";

describe("the Chinese lexicon", () => {
  it("segments by longest match and keeps every character", () => {
    // 精彩 and 令人失望 are entries; 很, 的 and punctuation are not, so they come out one by one.
    expect(segmentZh("电影很精彩，令人失望的结局。")).toEqual([
      "电",
      "影",
      "很",
      "精彩",
      "，",
      "令人失望",
      "的",
      "结",
      "局",
      "。",
    ]);
    const text = "我们昨天去了湖边，它在车站附近。";
    expect(segmentZh(text).join("")).toBe(text);
  });

  it("sums valences as AFINN-zh gives them, a negator flipping the next valued word until the clause ends", () => {
    // AFINN-zh: 精彩 +4, 讨厌 −3, 推荐 +2.
    expect(chineseSentiment("很精彩").score).toBe(4);
    expect(chineseSentiment("我讨厌它，很精彩").score).toBe(1);
    expect(chineseSentiment("我不推荐").score).toBe(-2);
    expect(chineseSentiment("我不，推荐").score).toBe(2);
    expect(chineseSentiment("Hello world").score).toBe(0);
  });

  it("leaves English text scored exactly as the English oracle scores it", () => {
    const afinn = new Sentiment();
    for (const text of ["It was wonderful and lovely.", "It was terrible and awful.", "It has a red door."])
      expect(oracleScore(text)).toBe(afinn.analyze(text).score);
    expect(oracleScore("It was wonderful and lovely.")).toBe(7); // AFINN-165: wonderful 4, lovely 3
    expect(oracleScore("It was wonderful, 很精彩.")).toBe(8);
  });
});

describe("the Chinese demo generator", () => {
  it("writes every voice as the oracle hears it: positive > 0, negative < 0, neutral = 0, sentence by sentence", () => {
    const rand = mulberry32(3);
    const voices = ["positive", "negative", "neutral"] as const;
    for (let i = 0; i < 3000; i++) {
      const sentiment = voices[i % 3]!;
      const text = sentenceZh(rand, TOPICS_ZH[i % TOPICS_ZH.length]!, sentiment);
      const score = oracleScore(text);
      if (sentiment === "positive") expect(score, text).toBeGreaterThan(0);
      if (sentiment === "negative") expect(score, text).toBeLessThan(0);
      if (sentiment === "neutral") expect(score, text).toBe(0);
    }
  });

  it("is deterministic, in Chinese, with the English design (sizes, splits, one prompt per topic and wording)", () => {
    const zh = generateDemo({ language: "zh", corpusSize: 200, sftSize: 60 });
    const en = generateDemo({ corpusSize: 200, sftSize: 60 });
    expect(generateDemo({ language: "zh", corpusSize: 200, sftSize: 60 })).toEqual(zh);
    expect(zh.corpus).toHaveLength(200);
    expect(zh.sft.map((p) => p.sentiment)).toEqual(en.sft.map((p) => p.sentiment));
    expect(zh.prompts.map((p) => p.split)).toEqual(en.prompts.map((p) => p.split));
    expect(zh.corpus.every((t) => /[\u4e00-\u9fff]/u.test(t) && !/[a-z]/iu.test(t))).toBe(true);
    expect(new Set(zh.corpus).size).toBeGreaterThan(190);
    const mean = (s: string) => {
      const xs = zh.sft.filter((p) => p.sentiment === s).map((p) => oracleScore(p.response));
      return xs.reduce((x, y) => x + y, 0) / xs.length;
    };
    expect(mean("positive")).toBeGreaterThan(2);
    expect(mean("negative")).toBeLessThan(-2);
    expect(mean("neutral")).toBe(0);
    expect(
      oracleRanking([
        { id: "bad", response: "那碗汤很糟糕，它毁了我的一天。" },
        { id: "good", response: "那碗汤很精彩，我会推荐给朋友。" },
        { id: "plain", response: "那碗汤很小，窗户朝着街道。" },
      ]),
    ).toEqual([["good"], ["plain"], ["bad"]]);
  });

  it("leaves the English demo as it was", () => {
    const en = generateDemo({ corpusSize: 2, sftSize: 1 });
    expect(en.corpus[0]).toBe(
      "The football match made me feel angry, and the people were rude. Honestly, the football match is poor and boring. What a ugly day at the football match; I felt unhappy. The weather made me feel unhappy, and everyone looked tired.",
    );
  });
});

describe("the Chinese demo chain", () => {
  it("trains with the English chain's settings and only samples from Chinese prompts", () => {
    for (const quick of [false, true]) {
      const en = demoChain(quick, 1234);
      const zh = demoChain(quick, 1234, "zh");
      const withoutSamples = (chain: typeof en) =>
        chain.map(({ config, ...step }) => {
          const { samplePrompts: _, ...rest } = config as Record<string, unknown>;
          return { ...step, config: rest };
        });
      expect(withoutSamples(zh)).toEqual(withoutSamples(en));
      const samples = (chain: typeof en, key: string) =>
        (chain.find((s) => s.key === key)!.config as { samplePrompts?: string[] }).samplePrompts;
      expect(samples(zh, "sft")).toEqual(["跟我说说公园。", "讲讲我的早餐。"]);
      expect(samples(zh, "pretrain")?.every((p) => /[\u4e00-\u9fff]/u.test(p))).toBe(true);
      expect(samples(en, "sft")).toBeUndefined(); // English: the configs' defaults, as before
    }
  });
});

describe("seeding the Chinese demo", () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => t?.drop());

  it("seeds Chinese when asked, keeps it on later starts, and refuses English on top of it", async () => {
    expect(await seedDemo(t.db, { language: "zh", corpusSize: 50, sftSize: 20 })).toEqual({
      created: true,
      language: "zh",
    });
    const [corpus] = await t.db.select().from(datasets).where(eq(datasets.name, "demo-corpus"));
    expect(corpus!.metadata).toMatchObject({ language: "zh" });
    expect(await seedDemo(t.db)).toEqual({ created: false, language: "zh" });
    await expect(seedDemo(t.db, { language: "en" })).rejects.toThrow(
      /in Chinese; the English demo needs a database of its own/,
    );
  });
});
