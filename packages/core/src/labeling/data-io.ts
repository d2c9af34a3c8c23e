/**
 * Data in and out of the labeler. Import is all-or-nothing (every line is checked first; a bad line is
 * reported as "line N: field: what was expected" and nothing is stored). Export writes TRL's preference
 * format (plain and conversational) and full rankings with annotators and timings; a rankings export
 * imports back as the same tasks (prompts, responses, their sources and gold answers).
 */
import { asc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import type { Database, Db } from "../db/open";
import { datasets, examples } from "../db/schema";
import {
  datasetNameProblem,
  ImportError,
  messagesText,
  nonEmptyString as nonEmpty,
  parseJsonl,
  textOrMessagesSchema,
} from "../formats";
import {
  createComparisonTasks,
  loadRankingGroups,
  MAX_TASK_COMPLETIONS,
  preferencePairs,
} from "../preferences";
import { launchRun } from "../queue/launch";
import { LabelingError } from "./errors";
import type { RankingAnswerRow } from "./submit";

const responseSchema = z.preprocess(
  (value) => (typeof value === "string" ? { text: value } : value),
  z.object(
    { text: nonEmpty(), source: z.string({ error: "must be a string" }).min(1).default("imported") },
    { error: 'must be a string or {"text", "source"}' },
  ),
);

/** A comparison task to import: a prompt, 2..9 responses (with the model that wrote each), an optional gold answer. */
export const taskImportLineSchema = z
  .object({
    prompt: nonEmpty(),
    responses: z
      .array(responseSchema, { error: "must be a list of 2 to 9 responses" })
      .min(2, "needs at least 2 responses to compare")
      .max(MAX_TASK_COMPLETIONS, `at most ${MAX_TASK_COMPLETIONS} responses per task`),
    /** The known answer of a gold task: groups of response indices (0-based), best first. */
    gold: z
      .array(z.array(z.number().int().min(0)).min(1), { error: "must be groups of response indices" })
      .optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((line, ctx) => {
    if (!line.gold) return;
    const flat = line.gold.flat();
    const ok =
      flat.length === line.responses.length &&
      new Set(flat).size === flat.length &&
      flat.every((i) => i < line.responses.length);
    if (!ok) {
      ctx.addIssue({
        code: "custom",
        path: ["gold"],
        message: `must list each response index 0..${line.responses.length - 1} exactly once`,
      });
    }
  });

/** A TRL preference row, plain or conversational: its two responses become a pairwise task. */
export const trlImportLineSchema = z.object({
  prompt: textOrMessagesSchema,
  chosen: textOrMessagesSchema,
  rejected: textOrMessagesSchema,
});

export const promptImportLineSchema = z.object({ prompt: nonEmpty() });

export type ImportKind = "tasks" | "trl" | "prompts";

/** What a file holds, from its first line's fields: responses → tasks, chosen → TRL pairs, else prompts. */
export function detectImportKind(text: string): ImportKind {
  const first = text.split(/\r?\n/).find((line) => line.trim() !== "");
  if (!first) throw new ImportError([{ line: 1, field: "(file)", message: "the file is empty" }]);
  let value: unknown;
  try {
    value = JSON.parse(first);
  } catch {
    return "tasks"; // parseJsonl reports the line
  }
  if (value && typeof value === "object") {
    if ("responses" in value) return "tasks";
    if ("chosen" in value || "rejected" in value) return "trl";
    return "prompts";
  }
  return "tasks";
}

export interface ImportOptions {
  /** Dataset to add to; created (with `requiredRankings`) when it does not exist. */
  dataset: string;
  text: string;
  description?: string;
  requiredRankings?: number;
  /** Seed of the tasks' display shuffles (default: time-based). */
  seed?: number;
}

export interface ImportResult {
  kind: ImportKind;
  dataset: string;
  datasetId: string;
  created: boolean;
  /** Tasks (or prompts) imported, and gold tasks among them. */
  imported: number;
  gold: number;
}

/** Import a JSONL file of comparison tasks, TRL preference pairs or prompts. Throws ImportError on any bad line. */
export async function importJsonl(db: Db, options: ImportOptions): Promise<ImportResult> {
  const kind = detectImportKind(options.text);
  const name = options.dataset.trim();
  const nameProblem = datasetNameProblem(name);
  if (nameProblem) throw new LabelingError("BAD_REQUEST", `dataset: ${nameProblem}`);
  const datasetKind = kind === "prompts" ? "prompts" : "preferences";

  // The dataset is created in the transaction that fills it: a file refused halfway leaves nothing behind.
  const ensureDataset = async (db: Db): Promise<{ id: string; created: boolean }> => {
    const [existing] = await db.select().from(datasets).where(eq(datasets.name, name));
    if (existing) {
      if (existing.kind !== datasetKind) {
        throw new LabelingError(
          "BAD_REQUEST",
          `dataset: "${name}" holds ${existing.kind}; this file holds ${kind === "prompts" ? "prompts" : "comparison tasks"}`,
        );
      }
      return { id: existing.id, created: false };
    }
    const [row] = await db
      .insert(datasets)
      .values({
        name,
        kind: datasetKind,
        description: options.description ?? "",
        requiredRankings: options.requiredRankings ?? 1,
        source: "import",
      })
      .onConflictDoNothing({ target: datasets.name })
      .returning({ id: datasets.id });
    if (!row) return ensureDataset(db);
    return { id: row.id, created: true };
  };

  if (kind === "prompts") {
    const lines = parseJsonl(options.text, promptImportLineSchema);
    const dataset = await db.transaction(async (tx) => {
      const dataset = await ensureDataset(tx);
      await tx.execute(sql`select 1 from ${datasets} where id = ${dataset.id} for update`);
      const [max] = await tx
        .select({ idx: sql<number>`coalesce(max(${examples.idx}), -1)::int` })
        .from(examples)
        .where(eq(examples.datasetId, dataset.id));
      const start = (max?.idx ?? -1) + 1;
      for (let i = 0; i < lines.length; i += 1000) {
        await tx
          .insert(examples)
          .values(
            lines
              .slice(i, i + 1000)
              .map((line, j) => ({ datasetId: dataset.id, idx: start + i + j, prompt: line.prompt })),
          );
      }
      return dataset;
    });
    return {
      kind,
      dataset: name,
      datasetId: dataset.id,
      created: dataset.created,
      imported: lines.length,
      gold: 0,
    };
  }

  const tasks =
    kind === "tasks"
      ? parseJsonl(options.text, taskImportLineSchema)
      : parseJsonl(options.text, trlImportLineSchema).map((row) => ({
          prompt: messagesText(row.prompt),
          responses: [
            { text: messagesText(row.chosen), source: "imported" },
            { text: messagesText(row.rejected), source: "imported" },
          ],
          gold: undefined,
          metadata: undefined,
        }));
  return db.transaction(async (tx) => {
    const dataset = await ensureDataset(tx);
    const created = await createComparisonTasks(
      tx,
      name,
      tasks.map((t) => ({
        prompt: t.prompt,
        completions: t.responses.map((r) => ({ response: r.text, source: r.source })),
        metadata: t.metadata,
      })),
      { seed: options.seed ?? Date.now() },
    );
    let gold = 0;
    for (const [i, task] of tasks.entries()) {
      if (!task.gold) continue;
      const ids = created[i]!.completionIds;
      const goldRanking = task.gold.map((group) => group.map((index) => ids[index]!));
      await tx.execute(
        sql`update comparison_tasks set gold_ranking = ${JSON.stringify(goldRanking)}::jsonb where id = ${created[i]!.taskId}`,
      );
      gold++;
    }
    if (gold > 0) {
      // Handing out tasks looks for gold tasks only in datasets that say they have some.
      await tx.execute(sql`update datasets set metadata = metadata || jsonb_build_object('goldTasks',
      (select count(*)::int from comparison_tasks where dataset_id = ${dataset.id} and gold_ranking is not null))
      where id = ${dataset.id}`);
    }
    return {
      kind,
      dataset: name,
      datasetId: dataset.id,
      created: dataset.created,
      imported: tasks.length,
      gold,
    };
  });
}

export const EXPORT_FORMATS = ["trl", "trl-conversational", "rankings"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** A dataset's preferences as JSONL in one of EXPORT_FORMATS (one object per line, newline-terminated). */
export async function exportPreferences(db: Db, datasetName: string, format: ExportFormat): Promise<string> {
  const lines: unknown[] = [];
  if (format === "trl" || format === "trl-conversational") {
    const pairs = preferencePairs(await loadRankingGroups(db, [datasetName]));
    for (const pair of pairs) {
      lines.push(
        format === "trl"
          ? { prompt: pair.prompt, chosen: pair.chosen, rejected: pair.rejected }
          : {
              prompt: [{ role: "user", content: pair.prompt }],
              chosen: [{ role: "assistant", content: pair.chosen }],
              rejected: [{ role: "assistant", content: pair.rejected }],
            },
      );
    }
  } else {
    lines.push(...(await rankingsExport(db, datasetName)));
  }
  return lines.map((line) => `${JSON.stringify(line)}\n`).join("");
}

async function rankingsExport(db: Db, datasetName: string) {
  const [dataset] = await db.select().from(datasets).where(eq(datasets.name, datasetName));
  if (!dataset) throw new LabelingError("NOT_FOUND", `dataset "${datasetName}" does not exist`);
  const { rows: tasks } = await db.execute<{
    id: string;
    prompt: string;
    gold_ranking: string[][] | null;
    metadata: Record<string, unknown>;
    responses: { id: string; text: string; source: string; position: number }[];
  }>(sql`
    select t.id, t.prompt, t.gold_ranking, t.metadata,
      (select jsonb_agg(jsonb_build_object('id', c.id, 'text', c.response, 'source', c.source, 'position', tc.position)
        order by tc.position)
       from task_completions tc join completions c on c.id = tc.completion_id where tc.task_id = t.id) as responses
    from comparison_tasks t where t.dataset_id = ${dataset.id}
    order by t.created_at, t.id`);
  const { rows: answers } = await db.execute<
    RankingAnswerRow & {
      task_id: string;
      annotator_id: string;
      email: string | null;
      time_ms: number | null;
      created_at: Date;
      updated_at: Date;
    }
  >(sql`
    select r.task_id, r.annotator_id, u.email, r.ranking, r.skipped, r.all_bad, r.strength, r.flags, r.note,
      r.time_ms, r.created_at, r.updated_at
    from rankings r join comparison_tasks t on t.id = r.task_id left join users u on u.id = r.annotator_id
    where t.dataset_id = ${dataset.id}
    order by r.created_at, r.id`);
  const answersOf = new Map<string, typeof answers>();
  for (const a of answers) answersOf.set(a.task_id, [...(answersOf.get(a.task_id) ?? []), a]);
  return tasks.map((task) => {
    const index = new Map(task.responses.map((r, i) => [r.id, i]));
    return {
      task_id: task.id,
      dataset: datasetName,
      prompt: task.prompt,
      responses: task.responses,
      ...(task.gold_ranking ? { gold: task.gold_ranking.map((g) => g.map((id) => index.get(id)!)) } : {}),
      metadata: task.metadata,
      rankings: (answersOf.get(task.id) ?? []).map((a) => ({
        annotator_id: a.annotator_id,
        annotator_email: a.email,
        ranking: a.ranking,
        skipped: a.skipped,
        all_bad: a.all_bad,
        strength: a.strength,
        flags: a.flags,
        note: a.note,
        time_ms: a.time_ms,
        created_at: new Date(a.created_at).toISOString(),
        updated_at: new Date(a.updated_at).toISOString(),
      })),
    };
  });
}

// ---------------------------------------------------------------------------------------------------
// Tasks generated by a model: K responses per prompt from a checkpoint, queued as a `generate` job.
// ---------------------------------------------------------------------------------------------------

export const generateTasksSchema = z.object({
  /** A run whose final checkpoint samples the responses (`run:<id>` in the job config). */
  runId: z.uuid(),
  prompts: z.string().min(1, "choose a prompts dataset"),
  dataset: z.string().min(1, "name the preferences dataset to add the tasks to"),
  completionsPerPrompt: z.number().int().min(2).max(MAX_TASK_COMPLETIONS).default(4),
  maxPrompts: z.number().int().min(1).max(100_000).default(100),
  requiredRankings: z.number().int().min(1).max(100).optional(),
});

// The queue helpers take a Database (pool + drizzle); the routers have drizzle, whose client is the pool.
const asDatabases = new WeakMap<object, Database>();
function asDatabase(db: Db): Database {
  let database = asDatabases.get(db);
  if (!database) {
    const pool = (db as unknown as { $client: Database["pool"] }).$client;
    database = { db, pool, url: "", mode: "external", close: async () => {} };
    asDatabases.set(db, database);
  }
  return database;
}

/** Checkpoints tasks can be generated from: finished runs with a checkpoint, newest first. */
export async function generationSources(db: Db) {
  const { rows } = await db.execute<{
    id: string;
    name: string;
    kind: string;
    step: number;
    finished_at: Date | null;
  }>(sql`
    select r.id, r.name, r.kind, max(c.step)::int as step, r.finished_at
    from runs r join checkpoints c on c.run_id = r.id
    where r.status = 'succeeded' and r.kind in ('pretrain', 'sft', 'ppo', 'dpo')
    group by r.id order by r.finished_at desc nulls last, r.created_at desc limit 100`);
  const prompts = await db
    .select({ name: datasets.name })
    .from(datasets)
    .where(eq(datasets.kind, "prompts"))
    .orderBy(asc(datasets.name));
  return {
    runs: rows.map((r) => ({ id: r.id, name: r.name, kind: r.kind, step: r.step })),
    promptDatasets: prompts.map((p) => p.name),
  };
}

/** Queue a `generate` run that samples K responses per prompt and adds them as comparison tasks. */
export async function launchGenerateTasks(db: Db, input: z.input<typeof generateTasksSchema>) {
  const options = generateTasksSchema.parse(input);
  return launchRun(asDatabase(db), {
    kind: "generate",
    config: {
      checkpoint: `run:${options.runId}`,
      prompts: options.prompts,
      dataset: options.dataset,
      completionsPerPrompt: options.completionsPerPrompt,
      maxPrompts: options.maxPrompts,
      ...(options.requiredRankings ? { requiredRankings: options.requiredRankings } : {}),
    },
  });
}
