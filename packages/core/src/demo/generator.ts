/**
 * The demo project: a deterministic generator of a small English corpus about everyday things, worded
 * positively, neutrally or negatively, with SFT pairs and prompts in the same voice. Small enough to
 * pretrain a `tiny` model on a laptop; varied enough that the sentiment oracle (AFINN) finds a clear
 * preference for PPO and DPO to learn. `language: "zh"` writes the same design in Simplified Chinese
 * (generator-zh.ts), scored by the oracle's Chinese lexicon.
 */

import { mulberry32 } from "../random";
import { chineseVoice } from "./generator-zh";

export { mulberry32 };

const pick = <T>(rand: () => number, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

export const TOPICS = [
  "the park",
  "the weather",
  "my breakfast",
  "the movie",
  "the new cafe",
  "the train ride",
  "our garden",
  "the library",
  "the concert",
  "my new job",
  "the beach",
  "the museum",
  "the old bridge",
  "the market",
  "my neighbor",
  "the bakery",
  "the lake",
  "the book",
  "the football match",
  "the hotel",
  "the bus",
  "the city",
  "the soup",
  "the game",
  "the class",
  "the dog",
  "the party",
  "the song",
  "the trip",
  "the restaurant",
] as const;

const POSITIVE = {
  adjectives: [
    "good",
    "great",
    "wonderful",
    "lovely",
    "fantastic",
    "beautiful",
    "pleasant",
    "amazing",
    "nice",
    "excellent",
  ],
  feelings: ["happy", "glad", "delighted", "cheerful", "excited", "grateful"],
  verbs: ["love", "enjoy", "like", "admire"],
  endings: [
    "and I want to go back soon",
    "and everyone was smiling",
    "and it made my day better",
    "and the people were kind",
    "and I would recommend it to a friend",
  ],
} as const;

const NEGATIVE = {
  adjectives: [
    "bad",
    "terrible",
    "awful",
    "boring",
    "horrible",
    "dull",
    "ugly",
    "poor",
    "disappointing",
    "sad",
  ],
  feelings: ["unhappy", "angry", "annoyed", "upset", "tired", "bored"],
  verbs: ["hate", "dislike", "regret"],
  endings: [
    "and I never want to go back",
    "and everyone looked tired",
    "and it ruined my day",
    "and the people were rude",
    "and I would not recommend it to anyone",
  ],
} as const;

const NEUTRAL = {
  adjectives: ["quiet", "busy", "small", "large", "old", "new", "ordinary", "crowded"],
  details: [
    "it opens at nine in the morning",
    "there were many people there",
    "it is near the station",
    "it took about an hour",
    "we went there on a sunday",
    "it has a red door",
    "the windows face the street",
  ],
} as const;

export type Sentiment = "positive" | "negative" | "neutral";

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** One sentence about `topic` in the given sentiment. */
export function sentence(rand: () => number, topic: string, sentiment: Sentiment): string {
  if (sentiment === "neutral") {
    const templates = [
      () => `${capitalize(topic)} was ${pick(rand, NEUTRAL.adjectives)} and ${pick(rand, NEUTRAL.details)}.`,
      () => `We visited ${topic} yesterday; ${pick(rand, NEUTRAL.details)}.`,
      () => `${capitalize(topic)} is ${pick(rand, NEUTRAL.adjectives)}, and ${pick(rand, NEUTRAL.details)}.`,
    ];
    return pick(rand, templates)();
  }
  const words = sentiment === "positive" ? POSITIVE : NEGATIVE;
  const templates = [
    () => `${capitalize(topic)} was ${pick(rand, words.adjectives)} ${pick(rand, words.endings)}.`,
    () => `I ${pick(rand, words.verbs)} ${topic} because it is ${pick(rand, words.adjectives)}.`,
    () => `${capitalize(topic)} made me feel ${pick(rand, words.feelings)}, ${pick(rand, words.endings)}.`,
    () => `What a ${pick(rand, words.adjectives)} day at ${topic}; I felt ${pick(rand, words.feelings)}.`,
    () => `Honestly, ${topic} is ${pick(rand, words.adjectives)} and ${pick(rand, words.adjectives)}.`,
  ];
  return pick(rand, templates)();
}

const SENTIMENTS: readonly Sentiment[] = ["positive", "negative", "neutral"];

/** Prompt wordings; the topic is the only thing that changes within one. */
const PROMPT_TEMPLATES = [
  (t: string) => `Tell me about ${t}.`,
  (t: string) => `What do you think of ${t}?`,
  (t: string) => `Describe ${t}.`,
  (t: string) => `How was ${t}?`,
] as const;

export interface DemoData {
  /** Pretraining corpus: short paragraphs. */
  corpus: string[];
  /** SFT pairs: a prompt and a reference response of mixed sentiment (so RL has room to move it). */
  sft: { prompt: string; response: string; sentiment: Sentiment }[];
  /** Prompts for rollouts and comparison tasks; `split` holds out topics' prompts for evaluation. */
  prompts: { prompt: string; split: "train" | "eval" }[];
}

/** The languages the demo project can be written in. */
export const DEMO_LANGUAGES = ["en", "zh"] as const;
export type DemoLanguage = (typeof DEMO_LANGUAGES)[number];

/** The language-specific parts of the generator: the rest (the draws and their order) is shared. */
export interface DemoVoice {
  topics: readonly string[];
  sentence: (rand: () => number, topic: string, sentiment: Sentiment) => string;
  prompts: readonly ((topic: string) => string)[];
  /** How sentences join into a paragraph (a space in English, nothing in Chinese). */
  join: (sentences: string[]) => string;
}

const englishVoice: DemoVoice = {
  topics: TOPICS,
  sentence,
  prompts: PROMPT_TEMPLATES,
  join: (sentences) => sentences.join(" "),
};

const VOICES: Record<DemoLanguage, DemoVoice> = { en: englishVoice, zh: chineseVoice };

export interface DemoOptions {
  seed?: number;
  /** The language of the corpus, pairs and prompts (default English). */
  language?: DemoLanguage;
  /** Paragraphs in the corpus (each 2–4 sentences). */
  corpusSize?: number;
  sftSize?: number;
}

/** Generate the demo project's data. Deterministic: the same options give the same data. */
export function generateDemo(options: DemoOptions = {}): DemoData {
  const rand = mulberry32(options.seed ?? 42);
  const corpusSize = options.corpusSize ?? 6000;
  const sftSize = options.sftSize ?? 2000;
  const voice = VOICES[options.language ?? "en"];
  const topics = voice.topics;

  const corpus: string[] = [];
  for (let i = 0; i < corpusSize; i++) {
    const topic = pick(rand, topics);
    const sentiment = pick(rand, SENTIMENTS);
    const n = 2 + Math.floor(rand() * 3);
    const sentences: string[] = [];
    for (let k = 0; k < n; k++) {
      // Mostly one voice per paragraph, sometimes a turn, as people write.
      const s = rand() < 0.8 ? sentiment : pick(rand, SENTIMENTS);
      sentences.push(voice.sentence(rand, rand() < 0.7 ? topic : pick(rand, topics), s));
    }
    corpus.push(voice.join(sentences));
  }

  const sft: DemoData["sft"] = [];
  for (let i = 0; i < sftSize; i++) {
    const topic = pick(rand, topics);
    const sentiment = pick(rand, SENTIMENTS);
    const prompt = pick(rand, voice.prompts)(topic);
    const response = voice.join([
      voice.sentence(rand, topic, sentiment),
      ...(rand() < 0.5 ? [voice.sentence(rand, topic, sentiment)] : []),
    ]);
    sft.push({ prompt, response, sentiment });
  }

  const prompts: DemoData["prompts"] = [];
  for (const [t, topic] of topics.entries()) {
    for (const [w, template] of voice.prompts.entries()) {
      // Every fourth (topic, wording) pair is held out, so evaluation prompts are unseen as whole prompts.
      prompts.push({ prompt: template(topic), split: (t + w) % 4 === 0 ? "eval" : "train" });
    }
  }
  return { corpus, sft, prompts };
}
