/** A run's samples (prompt, response, reward, KL) by step, for the samples table, slider and side-by-side. */
import type { Db } from "@rlhf/core/db";
import { samples } from "@rlhf/core/schema";
import { and, asc, count, eq, sql } from "@rlhf/core/trpc";

type SQL = ReturnType<typeof sql>;

const sampleColumns = {
  id: samples.id,
  step: samples.step,
  prompt: samples.prompt,
  response: samples.response,
  reward: samples.reward,
  kl: samples.kl,
  extra: samples.extra,
};

/** The steps that have samples, with how many each: the slider's stops. */
export async function sampleSteps(db: Db, runId: string) {
  return db
    .select({ step: samples.step, count: count() })
    .from(samples)
    .where(eq(samples.runId, runId))
    .groupBy(samples.step)
    .orderBy(asc(samples.step));
}

function contains(search: string | undefined): SQL | undefined {
  const text = search?.trim();
  if (!text) return undefined;
  const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return sql`(${samples.prompt} ilike ${pattern} or ${samples.response} ilike ${pattern})`;
}

/** Samples of one step (or of every step when `step` is absent), optionally matching a search. */
export async function samplesOf(
  db: Db,
  runId: string,
  options: { step?: number; search?: string; limit?: number } = {},
) {
  return db
    .select(sampleColumns)
    .from(samples)
    .where(
      and(
        eq(samples.runId, runId),
        options.step !== undefined ? eq(samples.step, options.step) : undefined,
        contains(options.search),
      ),
    )
    .orderBy(asc(samples.step), asc(samples.id))
    .limit(options.limit ?? 500);
}

export interface SampleSide {
  runId: string;
  step: number;
}

/**
 * Two (run, step) sides matched by prompt: for each prompt either side has, the responses of each. Two
 * steps of one run show how its answers changed; two runs at their steps show how they differ.
 */
export async function sideBySide(db: Db, a: SampleSide, b: SampleSide, search?: string) {
  const [left, right] = await Promise.all([
    samplesOf(db, a.runId, { step: a.step, search, limit: 1000 }),
    samplesOf(db, b.runId, { step: b.step, search, limit: 1000 }),
  ]);
  const prompts: string[] = [];
  const rows = new Map<string, { prompt: string; a: typeof left; b: typeof right }>();
  const add = (side: "a" | "b", list: typeof left) => {
    for (const sample of list) {
      let row = rows.get(sample.prompt);
      if (!row) {
        row = { prompt: sample.prompt, a: [], b: [] };
        rows.set(sample.prompt, row);
        prompts.push(sample.prompt);
      }
      row[side].push(sample);
    }
  };
  add("a", left);
  add("b", right);
  return prompts.map((p) => rows.get(p)!);
}
