/**
 * The demo project in Simplified Chinese: the same design as the English generator (generator.ts) — thirty
 * everyday topics, sentences worded positively, neutrally or negatively, paragraphs mostly in one voice, SFT
 * pairs of mixed sentiment and four prompt wordings per topic with the same held-out rule — in Chinese.
 *
 * Its words are chosen against the oracle's lexicon (lexicon-zh.ts): every positive word has a positive
 * valence there, every negative word a negative one, and the topics, neutral adjectives and details score 0,
 * so a neutral sentence scores 0 and the oracle separates the three voices as AFINN does the English ones
 * (test/demo-zh.test.ts checks it sentence by sentence).
 */
import type { DemoVoice, Sentiment } from "./generator";

const pick = <T>(rand: () => number, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

export const TOPICS_ZH = [
  "公园",
  "天气",
  "我的早餐",
  "那部电影",
  "新开的咖啡馆",
  "坐地铁",
  "我们的花园",
  "图书馆",
  "音乐会",
  "我的新工作",
  "海滩",
  "美术馆",
  "老桥",
  "菜市场",
  "我的邻居",
  "面包店",
  "湖边",
  "那本书",
  "足球赛",
  "酒店",
  "公交车",
  "这座城市",
  "那碗汤",
  "那个游戏",
  "这节课",
  "那只狗",
  "聚会",
  "那首歌",
  "这次旅行",
  "那家餐厅",
] as const;

const POSITIVE = {
  adjectives: ["好", "精彩", "可爱", "愉快", "优秀", "美丽", "完美", "漂亮"],
  feelings: ["高兴", "快乐", "满意", "兴奋", "感激", "幸福"],
  verbs: ["喜欢", "爱", "欣赏", "享受"],
  endings: ["我想很快再去一次", "每个人都在笑", "那里的人很友好", "我会推荐给朋友"],
} as const;

const NEGATIVE = {
  adjectives: ["坏", "糟糕", "可怕", "无聊", "丑", "令人失望"],
  feelings: ["生气", "伤心", "失望", "沮丧", "愤怒", "烦"],
  verbs: ["讨厌", "恨", "后悔去"],
  endings: ["我再也不会去了", "它毁了我的一天", "那里的人让我生气", "我不推荐任何人去"],
} as const;

const NEUTRAL = {
  adjectives: ["安静", "热闹", "小", "老", "新", "普通"],
  details: [
    "早上九点开门",
    "那里有很多人",
    "它在车站附近",
    "用了一个小时左右",
    "我们星期天去的",
    "它有一扇红色的门",
    "窗户朝着街道",
  ],
} as const;

/** One sentence about `topic` in the given sentiment. */
export function sentenceZh(rand: () => number, topic: string, sentiment: Sentiment): string {
  if (sentiment === "neutral") {
    const templates = [
      () => `${topic}很${pick(rand, NEUTRAL.adjectives)}，${pick(rand, NEUTRAL.details)}。`,
      () => `我们昨天去了${topic}，${pick(rand, NEUTRAL.details)}。`,
      () => `${topic}有点${pick(rand, NEUTRAL.adjectives)}，而且${pick(rand, NEUTRAL.details)}。`,
    ];
    return pick(rand, templates)();
  }
  const words = sentiment === "positive" ? POSITIVE : NEGATIVE;
  const templates = [
    () => `${topic}很${pick(rand, words.adjectives)}，${pick(rand, words.endings)}。`,
    () => `我${pick(rand, words.verbs)}${topic}，因为它很${pick(rand, words.adjectives)}。`,
    () => `${topic}让我觉得很${pick(rand, words.feelings)}，${pick(rand, words.endings)}。`,
    () => `在${topic}的一天真${pick(rand, words.adjectives)}，我觉得很${pick(rand, words.feelings)}。`,
    () => `说实话，${topic}又${pick(rand, words.adjectives)}又${pick(rand, words.adjectives)}。`,
  ];
  return pick(rand, templates)();
}

/** Prompt wordings; the topic is the only thing that changes within one. */
export const PROMPT_TEMPLATES_ZH = [
  (t: string) => `跟我说说${t}。`,
  (t: string) => `你觉得${t}怎么样？`,
  (t: string) => `讲讲${t}。`,
  (t: string) => `${t}怎么样？`,
] as const;

/** Chinese text joins sentences without a space. */
export const joinZh = (sentences: string[]): string => sentences.join("");

/** What generateDemo needs to write the demo in Chinese (same draws, in the same order, as English). */
export const chineseVoice = {
  topics: TOPICS_ZH,
  sentence: sentenceZh,
  prompts: PROMPT_TEMPLATES_ZH,
  join: joinZh,
} satisfies DemoVoice;
