import { sql } from "drizzle-orm";
import type { Db } from "../db/open";
import { datasets, examples } from "../db/schema";
import { type DemoLanguage, type DemoOptions, generateDemo } from "./generator";

export const DEMO_DATASETS = {
  corpus: "demo-corpus",
  sft: "demo-sft",
  prompts: "demo-prompts",
  preferences: "demo-preferences",
} as const;

const EVAL_EVERY = 20; // every 20th example is held out

const LANGUAGE_NAMES: Record<DemoLanguage, string> = { en: "English", zh: "Chinese" };

/**
 * Put the demo project's datasets into the database, once: in one transaction, and a no-op when they are
 * there already (so every start may call it, and two starts at once do not duplicate anything).
 *
 * `options.language` picks the demo's language on first seeding (default English). A database holds one
 * demo: asking for the other language where the demo is already seeded is refused, naming both, rather
 * than mixing two languages under the same dataset names. Without a language, whatever is there is kept.
 */
export async function seedDemo(
  db: Db,
  options: DemoOptions = {},
): Promise<{ created: boolean; language: DemoLanguage }> {
  return db.transaction(async (tx) => {
    // Serialise concurrent seeders; the lock ends with the transaction.
    await tx.execute(sql`select pg_advisory_xact_lock(7470002)`);
    const [existing] = await tx
      .select({ metadata: datasets.metadata })
      .from(datasets)
      .where(sql`${datasets.name} = ${DEMO_DATASETS.corpus}`);
    if (existing) {
      // Demo data seeded before languages existed carries no language: it is English.
      const seeded = ((existing.metadata as { language?: DemoLanguage } | null)?.language ??
        "en") as DemoLanguage;
      if (options.language && options.language !== seeded)
        throw new Error(
          `the demo data in this database is in ${LANGUAGE_NAMES[seeded]}; the ${LANGUAGE_NAMES[options.language]} demo needs a database of its own (a fresh RLHF_HOME or DATABASE_URL)`,
        );
      return { created: false, language: seeded };
    }
    const language = options.language ?? "en";

    const demo = generateDemo(options);
    const insertDataset = async (
      name: string,
      kind: "text" | "sft" | "prompts" | "preferences",
      description: string,
    ) => {
      const [row] = await tx
        .insert(datasets)
        .values({
          name,
          kind,
          description: language === "en" ? description : `${description} In ${LANGUAGE_NAMES[language]}.`,
          source: "demo",
          metadata: { seed: options.seed ?? 42, language },
        })
        .returning({ id: datasets.id });
      return row!.id;
    };

    const corpusId = await insertDataset(
      DEMO_DATASETS.corpus,
      "text",
      "Demo corpus: everyday topics in positive, neutral and negative wording.",
    );
    const sftId = await insertDataset(
      DEMO_DATASETS.sft,
      "sft",
      "Demo SFT pairs: prompts about everyday topics with reference answers of mixed sentiment.",
    );
    const promptsId = await insertDataset(
      DEMO_DATASETS.prompts,
      "prompts",
      "Demo prompts for rollouts and comparison tasks; eval split held out.",
    );
    await insertDataset(
      DEMO_DATASETS.preferences,
      "preferences",
      "Demo comparison tasks, ranked by the sentiment oracle and by people.",
    );

    const chunk = async (rows: (typeof examples.$inferInsert)[]) => {
      for (let i = 0; i < rows.length; i += 1000) await tx.insert(examples).values(rows.slice(i, i + 1000));
    };
    await chunk(
      demo.corpus.map((text, idx) => ({
        datasetId: corpusId,
        idx,
        text,
        split: idx % EVAL_EVERY === 0 ? "eval" : "train",
      })),
    );
    await chunk(
      demo.sft.map((p, idx) => ({
        datasetId: sftId,
        idx,
        prompt: p.prompt,
        response: p.response,
        split: idx % EVAL_EVERY === 0 ? "eval" : "train",
        metadata: { sentiment: p.sentiment },
      })),
    );
    await chunk(
      demo.prompts.map((p, idx) => ({ datasetId: promptsId, idx, prompt: p.prompt, split: p.split })),
    );
    return { created: true, language };
  });
}
